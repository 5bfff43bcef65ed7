"""Outside the kernel: papermill batch runs, the mn-nb command line, the demo."""
