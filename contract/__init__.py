"""Names and formats shared by the control plane, the media agent, the CDK app and the tests."""
