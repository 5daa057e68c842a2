"""Stand-ins for `check` that misbehave the way a hostile file can make a reader misbehave."""
import os
import time


def spins(path, secret, form_hint, display_name):
    time.sleep(60)


def dies(path, secret, form_hint, display_name):
    os._exit(134)          # what an aborting native reader looks like from outside
