"""The Pulumi program: what runs inside `pulumi up` (and under the SDK's mocks, offline)."""
