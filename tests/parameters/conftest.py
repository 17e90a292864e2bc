from tests.parameters.fixtures import fast_passwords, pworld  # noqa: F401
