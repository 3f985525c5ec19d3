"""marshmallow schemas of the HTTP contract: what requests may contain and what responses hold."""
