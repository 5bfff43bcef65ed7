"""Inside IPython only: magics, the kernel session, the step runner and what it uses."""
