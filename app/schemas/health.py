"""GET /healthz and GET /readyz responses."""

from marshmallow import Schema, fields


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "healthy"})
    timestamp = fields.Float(required=True, metadata={"description": "Unix seconds"})


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ready"})
    timestamp = fields.Float(required=True, metadata={"description": "Unix seconds"})
    checks = fields.Dict(
        keys=fields.String(), values=fields.Boolean(), metadata={"example": {"algorithm": True, "redis": True}}
    )
