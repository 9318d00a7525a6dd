"""Pulumi type tokens of the resources this program declares, named once.

The offline plan answers for them and the preview gate guards them; the tests check them
against what the real SDK registers.
"""

COMPONENT = "npq:analytics:EventsDataset"
DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
DATASET_IAM_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
KMS_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
