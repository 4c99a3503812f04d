"""The local development stack: the bundled Kafka broker, an SMTP catcher, dev keys, the demo and ``oms``.

Its own distribution (``oms-devstack``): it depends on the services, never the other way round, so no
production image carries the broker binary or the mail catcher.
"""
