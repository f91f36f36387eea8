"""``aiguard demo``: the 3 AM drill, every phase of the playbook in one command.

Private: the command line is the interface (``aiguard demo --help``).
"""
