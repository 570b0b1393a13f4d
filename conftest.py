# Shared personas and factories for every test module.
pytest_plugins = ["tests.fixtures"]
