import os
import sys

# Let test modules in subfolders import the example registry (tests/examples.py).
sys.path.insert(0, os.path.dirname(__file__))
