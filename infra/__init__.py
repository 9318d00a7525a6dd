"""npq-analytics: the NPQ DfE Analytics BigQuery datasets as code."""
