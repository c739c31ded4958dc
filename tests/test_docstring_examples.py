"""Runs the `>>>` docstring examples of every `zoo` module (one test per module) with
empty globals, so each example must import what it uses; modules without examples pass.
"""

import doctest
import importlib
import pkgutil

import pytest

import zoo


def _import_error(name):
    raise ImportError(f"{name} does not import")  # walk_packages would skip it silently


MODULES = ["zoo"] + sorted(
    module.name
    for module in pkgutil.walk_packages(zoo.__path__, prefix="zoo.", onerror=_import_error)
)
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder().find(module, module_name, globs={})
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report, failed, attempted = [], 0, 0
    for test in sorted(tests, key=lambda test: test.name):
        results = runner.run(test, out=report.append)
        failed, attempted = failed + results.failed, attempted + results.attempted
    if failed:
        pytest.fail(f"{failed} of {attempted} examples failed in {module_name}:\n"
                    + "".join(report), pytrace=False)
