import os
import sys

import pytest
import torch
import torch.distributions as td

import aleatorch as D

# Let test modules in subfolders import the example registry (tests/examples.py).
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def _restore_global_defaults():
    """No test leaves a process-wide default changed: the default ``validate_args`` of
    aleatorch and of torch.distributions (the first torch.compile in a process switches
    torch's off for good), and torch's default dtype. Three attribute reads per test."""
    ours, torchs = D.Distribution._validate_args, td.Distribution._validate_args
    dtype = torch.get_default_dtype()
    try:
        yield
    finally:
        D.Distribution.set_default_validate_args(ours)
        td.Distribution._validate_args = torchs
        torch.set_default_dtype(dtype)
