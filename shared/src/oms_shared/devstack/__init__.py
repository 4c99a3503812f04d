"""Local development stack: the bundled Kafka broker, an SMTP catcher, dev keys and the ``oms`` command."""
