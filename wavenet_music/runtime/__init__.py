"""Process plumbing: the device and the thread count a job runs with (``device``,
``threads``), the Ctrl-C / SIGTERM flag checked between steps (``stop``), and who prints
among torchrun's processes (``console``)."""
