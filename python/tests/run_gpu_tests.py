"""The GPU half of python/'s tests (ctest: python_gpu): every gpu_test_*.py here.

Exits 77, which ctest reports as skipped, with the reason, where PyTorch or a GPU is missing; otherwise
the status of the tests. Run by hand:  python3 python/tests/run_gpu_tests.py
"""

import pathlib
import sys
import unittest

SKIPPED = 77


def main():
    try:
        import torch
    except ImportError as e:
        print(f"python_gpu skipped: needs a GPU: these tests run through PyTorch with CUDA, and import torch failed ({e})")
        return SKIPPED
    if not torch.cuda.is_available():
        print(f"python_gpu skipped: needs a GPU: torch {torch.__version__} sees no CUDA device")
        return SKIPPED
    here = pathlib.Path(__file__).resolve().parent
    suite = unittest.defaultTestLoader.discover(str(here), pattern="gpu_test_*.py", top_level_dir=str(here))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
