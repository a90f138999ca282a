"""Cloud providers: base.py (Mapping, CloudProvider, Built), then one package per cloud with one
file per kind (providers/azure/queue.py is where Queue becomes Service Bus)."""
