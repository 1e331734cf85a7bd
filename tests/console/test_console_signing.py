"""On AWS the console signs every admin request in the browser (the vendored aws4fetch); botocore, which
the CLI and API Gateway's rules agree with, must compute the same SigV4 signature for it."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.console import console_url

pytestmark = pytest.mark.slow



CREDENTIALS = {"accessKeyId": "ASIAEXAMPLEKEY", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
               "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes=="}
SIGN = """async ([url, method, body, credentials]) => {
  const {AwsV4Signer} = await import('./vendor/aws4fetch.js');
  const signer = new AwsV4Signer({url, method, body, headers: body ? {'Content-Type': 'application/json'} : {},
                                  ...credentials, service: 'execute-api', region: 'eu-west-1'});
  const signed = await signer.sign();
  return Object.fromEntries(signed.headers.entries());
}"""


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/Prod/admin/chats?updated_after=1768848000&incoming=open-wa", None),
    ("POST", "/Prod/admin/chats/7/messages", '{"msg": "Grüße, ça va? 👋", "user_id": 1}'),
])
def test_the_browser_signature_is_the_one_botocore_computes(page, stack, method, path, body):
    page.goto(console_url(stack))
    url = f"https://abc123.execute-api.eu-west-1.amazonaws.com{path}"
    headers = page.evaluate(SIGN, [url, method, body, CREDENTIALS])
    authorization = headers["authorization"]
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-security-token"} <= set(signed_names)

    request = AWSRequest(method=method, url=url, data=body.encode() if body else None,
                         headers={name: (headers[name] if name != "host" else "abc123.execute-api.eu-west-1.amazonaws.com")
                                  for name in signed_names})
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials(CREDENTIALS["accessKeyId"], CREDENTIALS["secretAccessKey"],
                                 CREDENTIALS["sessionToken"]), "execute-api", "eu-west-1")
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert authorization.endswith(f"Signature={expected}")
