"""Judging a run: the HTML listening report (``build`` → ``clips``, ``composition``,
``notes``, ``page``, ``template``), its quality check (``check``) and time estimates of a job on
this machine (``estimate``)."""
