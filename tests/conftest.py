"""Test-wide settings: no AWS account, no network beyond loopback."""

import os

# botocore >= 1.44.4 routes DynamoDB Streams to an account-specific host that moto does not know.
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chatbridge-test")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "chatbridge-test")

# Shared fixtures (aws_stack, template_api, reply_aws) are plugins, so a test names them without importing them.
pytest_plugins = ["support.aws", "support.reply", "support.console"]
