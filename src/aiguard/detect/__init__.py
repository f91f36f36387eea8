"""Phase 1, detection and identification: is something wrong?"""
