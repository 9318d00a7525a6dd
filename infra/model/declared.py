"""The declared state: a stack's dataset and table as plain data, as BigQuery sees them.

Computed once from settings and the schema module; the Pulumi component, the verifier, the
local emulator and the exports all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.model import schema
from infra.model.settings import EPHEMERAL, StackSettings

KMS_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# Downstream Dataform sets partition_expiration_days on the table on every run: not ours.
IGNORED_TABLE_PROPERTIES = ("timePartitioning.expirationMs",)


@dataclass(frozen=True)
class DatasetSpec:
    project: str
    dataset_id: str
    location: str
    kms_key: str
    max_time_travel_hours: int
    labels: tuple[tuple[str, str], ...]
    description: str
    delete_contents_on_destroy: bool

    @property
    def ref(self) -> str:
        return f"{self.project}.{self.dataset_id}"

    @property
    def resource_id(self) -> str:
        """The id Pulumi imports the dataset by."""
        return f"projects/{self.project}/datasets/{self.dataset_id}"

    def api_repr(self) -> dict:
        """The dataset in BigQuery's REST shape."""
        return {
            "datasetReference": {"projectId": self.project, "datasetId": self.dataset_id},
            "location": self.location,
            "description": self.description,
            "labels": dict(self.labels),
            "defaultEncryptionConfiguration": {"kmsKeyName": self.kms_key},
            "maxTimeTravelHours": str(self.max_time_travel_hours),
        }


@dataclass(frozen=True)
class TableSpec:
    project: str
    dataset_id: str
    table_id: str
    columns: tuple[schema.Column, ...]
    policy_tag: str | None
    partition_type: str
    partition_field: str
    clustering: tuple[str, ...]
    require_partition_filter: bool
    kms_key: str
    description: str
    deletion_protection: bool

    @property
    def ref(self) -> str:
        return f"{self.project}.{self.dataset_id}.{self.table_id}"

    @property
    def resource_id(self) -> str:
        """The id Pulumi imports the table by."""
        return f"projects/{self.project}/datasets/{self.dataset_id}/tables/{self.table_id}"

    def api_schema(self) -> list[dict]:
        return schema.to_api(self.columns, self.policy_tag)

    def schema_json(self) -> str:
        return schema.to_json(self.columns, self.policy_tag)

    def api_repr(self) -> dict:
        """The table in BigQuery's REST shape."""
        return {
            "tableReference": {
                "projectId": self.project,
                "datasetId": self.dataset_id,
                "tableId": self.table_id,
            },
            "description": self.description,
            "schema": {"fields": self.api_schema()},
            "timePartitioning": {"type": self.partition_type, "field": self.partition_field},
            "clustering": {"fields": list(self.clustering)},
            "requirePartitionFilter": self.require_partition_filter,
            "encryptionConfiguration": {"kmsKeyName": self.kms_key},
        }

    def ddl(self) -> str:
        return schema.to_ddl(
            self.ref,
            self.kms_key,
            self.columns,
            self.description,
            self.partition_field,
            self.clustering,
            self.require_partition_filter,
        )


@dataclass(frozen=True)
class DatasetIamGrant:
    """One non-authoritative grant of a role to a member on the stack's dataset."""

    role: str
    member: str


@dataclass(frozen=True)
class Declaration:
    """Everything one stack declares."""

    settings: StackSettings
    dataset: DatasetSpec
    table: TableSpec
    dataset_iam_grants: tuple[DatasetIamGrant, ...] = ()

    @property
    def protect(self) -> bool:
        return self.settings.protected

    @property
    def owns_kms_grant(self) -> bool:
        return self.settings.owns_kms_grant

    @property
    def adopt(self) -> bool:
        return self.settings.adopt

    def app_env(self) -> dict[str, str]:
        """The environment variables the NPQ app reads to stream into this table."""
        return {
            "BIGQUERY_PROJECT_ID": self.dataset.project,
            "BIGQUERY_DATASET": self.dataset.dataset_id,
            "BIGQUERY_TABLE_NAME": self.table.table_id,
        }


def declare(settings: StackSettings) -> Declaration:
    """The dataset and table a stack's settings declare."""
    dataset = DatasetSpec(
        project=settings.project,
        dataset_id=settings.dataset_id,
        location=settings.location,
        kms_key=settings.kms_key,
        max_time_travel_hours=settings.time_travel_hours,
        # Adopting, no labels: pulumi-gcp imports a dataset's labels as none (the live ones go to
        # effectiveLabels), so declared labels would turn the import into import + update. They
        # are declared by the next up, once `adopt` is removed (docs/adoption.md).
        labels=() if settings.adopt else settings.labels,
        description=settings.description,
        delete_contents_on_destroy=not settings.protected,
    )
    table = TableSpec(
        project=settings.project,
        dataset_id=settings.dataset_id,
        table_id=schema.TABLE_ID,
        columns=schema.EVENTS,
        policy_tag=settings.hidden_policy_tag,
        partition_type=schema.PARTITION_TYPE,
        partition_field=schema.PARTITION_FIELD,
        clustering=schema.CLUSTER_FIELDS,
        require_partition_filter=schema.REQUIRE_PARTITION_FILTER,
        kms_key=settings.kms_key,
        description=schema.TABLE_DESCRIPTION,
        deletion_protection=settings.protected,
    )
    return Declaration(
        settings=settings, dataset=dataset, table=table, dataset_iam_grants=_iam_grants(settings)
    )


def _iam_grants(settings: StackSettings) -> tuple[DatasetIamGrant, ...]:
    """Only an ephemeral stack grants access: it made its dataset, so no grant made elsewhere
    (the team's Terraform) can be on it, and its destroy revokes nothing anyone else relies on.
    A long-lived stack accepts the keys (Pulumi.review.yaml carries them for its review apps)
    but declares no grant."""
    if settings.lifecycle != EPHEMERAL or settings.review_iam_role is None:
        return ()
    return tuple(
        DatasetIamGrant(role=settings.review_iam_role, member=member)
        for member in settings.review_iam_members
    )
