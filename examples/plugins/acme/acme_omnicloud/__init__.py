"""Acme's omnicloud package. Deploy side: buckets.py (the kind), component.py, aws.py / azure.py /
gcp.py (its mapping on each cloud), azure_topics.py (a provider overriding one mapping). Run side,
bundled into functions: client.py and backends/ (no SDK import until first use)."""
