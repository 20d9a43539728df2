"""Data that ships with the package: the bundled synthetic CSV (``pipeline.synthetic.BUNDLED_CSV``)."""
