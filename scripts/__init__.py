"""Code that runs inside SageMaker containers; shipped as one source bundle."""
