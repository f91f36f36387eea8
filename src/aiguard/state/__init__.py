"""Where shared state lives: memory (default), a file, the environment, Redis."""
