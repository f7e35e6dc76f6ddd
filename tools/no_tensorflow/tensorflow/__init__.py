# On PYTHONPATH during `make mutate`: the mutation runs use only tests that need no
# TensorFlow, and a test that imports it by mistake fails the clean run at once.
raise ImportError("TensorFlow is switched off in mutation runs (tools/no_tensorflow)")
