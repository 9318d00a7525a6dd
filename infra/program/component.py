"""The Pulumi component that turns a declaration into gcp.bigquery resources."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.model.declared import IGNORED_TABLE_PROPERTIES, KMS_ROLE, Declaration
from infra.program import resource_types


class EventsDataset(pulumi.ComponentResource):
    """One environment's dataset and its `events` table, encrypted with the stack's KMS key.

    Long-lived stacks protect both (Pulumi `protect` plus the provider's deletion protection);
    ephemeral ones delete the dataset's contents on destroy. The dataset never declares
    `accesses`: that list is authoritative and would erase grants made elsewhere. Grants the
    declaration lists (ephemeral stacks only) are non-authoritative dataset IAM members.
    """

    def __init__(
        self, name: str, declaration: Declaration, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(resource_types.COMPONENT, name, None, opts)
        dataset_spec, table_spec = declaration.dataset, declaration.table
        depends_on: list[pulumi.Resource] = []

        self.kms_grant: gcp.kms.CryptoKeyIAMMember | None = None
        if declaration.owns_kms_grant:
            account = gcp.bigquery.get_default_service_account_output(
                project=dataset_spec.project, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.kms_grant = gcp.kms.CryptoKeyIAMMember(
                f"{name}-kms-grant",
                crypto_key_id=dataset_spec.kms_key,
                role=KMS_ROLE,
                member=account.member,
                opts=pulumi.ResourceOptions(parent=self, protect=declaration.protect),
            )
            depends_on.append(self.kms_grant)

        self.dataset = gcp.bigquery.Dataset(
            f"{name}-dataset",
            project=dataset_spec.project,
            dataset_id=dataset_spec.dataset_id,
            location=dataset_spec.location,
            description=dataset_spec.description,
            labels=dict(dataset_spec.labels) or None,
            max_time_travel_hours=str(dataset_spec.max_time_travel_hours),
            default_encryption_configuration=gcp.bigquery.DatasetDefaultEncryptionConfigurationArgs(
                kms_key_name=dataset_spec.kms_key
            ),
            delete_contents_on_destroy=dataset_spec.delete_contents_on_destroy,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=declaration.protect,
                depends_on=depends_on,
                import_=dataset_spec.resource_id if declaration.adopt else None,
            ),
        )

        self.table = gcp.bigquery.Table(
            f"{name}-table",
            project=table_spec.project,
            dataset_id=self.dataset.dataset_id,
            table_id=table_spec.table_id,
            description=table_spec.description,
            schema=table_spec.schema_json(),
            time_partitioning=gcp.bigquery.TableTimePartitioningArgs(
                type=table_spec.partition_type, field=table_spec.partition_field
            ),
            clusterings=list(table_spec.clustering),
            require_partition_filter=table_spec.require_partition_filter,
            encryption_configuration=gcp.bigquery.TableEncryptionConfigurationArgs(
                kms_key_name=table_spec.kms_key
            ),
            deletion_protection=table_spec.deletion_protection,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=declaration.protect,
                depends_on=depends_on,
                ignore_changes=list(IGNORED_TABLE_PROPERTIES),
                import_=table_spec.resource_id if declaration.adopt else None,
            ),
        )

        # Non-authoritative members only: `accesses` or a DatasetIamPolicy/Binding would replace
        # grants made elsewhere.
        self.iam_members = [
            gcp.bigquery.DatasetIamMember(
                f"{name}-iam-{grant.member}",
                project=dataset_spec.project,
                dataset_id=self.dataset.dataset_id,
                role=grant.role,
                member=grant.member,
                opts=pulumi.ResourceOptions(parent=self, protect=declaration.protect),
            )
            for grant in declaration.dataset_iam_grants
        ]

        self.register_outputs(
            {
                "dataset_id": self.dataset.dataset_id,
                "table_id": self.table.table_id,
                "table_ref": pulumi.Output.concat(
                    self.table.project, ".", self.table.dataset_id, ".", self.table.table_id
                ),
            }
        )
