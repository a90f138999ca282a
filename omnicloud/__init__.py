"""omnicloud: one app.yaml, deployed to AWS, Azure or Google Cloud with Pulumi, or run locally."""

__version__ = "0.1.0"
