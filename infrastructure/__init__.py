"""The AWS CDK app of the Spaces stack: stacks/ compose, constructs/ own one concern each."""
