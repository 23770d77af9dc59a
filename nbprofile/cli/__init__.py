"""The ``nbprofile`` command line: :mod:`~nbprofile.cli.main` (arguments), :mod:`~nbprofile.cli.commands`,
the headless runner (:mod:`~nbprofile.cli.runner`) and the CI gate (:mod:`~nbprofile.cli.gate`)."""
