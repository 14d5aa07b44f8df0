"""Weight-sharing supernet: NAS-Bench-201 operations, the search cell and its forward modes, data loaders."""
