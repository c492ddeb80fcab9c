"""Wire formats in: OTLP (protobuf/JSON) and Langfuse batch events, mapped to records."""
