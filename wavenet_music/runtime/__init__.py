"""Process plumbing: the device and the thread count a job runs with (``device``,
``threads``) and the Ctrl-C / SIGTERM flag checked between steps (``stop``)."""
