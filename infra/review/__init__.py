"""Review app stacks: the decisions (pure) and the Pulumi Automation API that carries them out."""
