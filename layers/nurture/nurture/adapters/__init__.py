"""AWS adapters for the domain ports. The only place (besides handlers) that imports boto3."""
