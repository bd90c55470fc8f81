"""What the tests and the benchmark share: starting the real processes on free ports
(``stack``), driving the REST APIs as a WSO2 user's script would (``flow``), waiting for a
condition instead of sleeping (``stack.wait_until``) and the Hypothesis profiles. It lives
outside ``tests/`` so that ``bench/`` never imports from the test suite."""
