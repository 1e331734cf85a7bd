"""Signing in on AWS, end to end in a real browser with no network: Cognito's hosted login (authorization code
+ PKCE), the identity pool's temporary credentials, and admin calls signed with them.

What stands in for AWS, and how faithful it is:
- The page is the real console, served by the local stack, with the CSP the console function sends on AWS
  and the config.json it would send there (a Cognito config, routed in by the test).
- The hosted UI (``https://<domain>.auth.<region>.amazoncognito.com``: ``/oauth2/authorize``, its login form,
  ``/oauth2/token``) is ``HostedUi`` below, answering the browser's requests to that real-looking origin. It
  checks what Cognito checks (client id, registered redirect URI, S256 challenge, state passed back, one-time
  code, the verifier hashing to the challenge, form-encoded token request with CORS) and signs the user in
  against a moto ``cognito-idp`` user pool, so the ID token is one moto's pool issued.
- The identity pool calls (``GetId``, ``GetCredentialsForIdentity`` to ``cognito-identity.<region>``) go to a
  moto server, unchanged.
- Every ``/admin`` request the page makes is checked as API Gateway's IAM authoriser would (botocore
  recomputes the SigV4 signature with the secret key moto issued, session token included), then passed on
  to the local stack.
One liberty: Cognito answers the login form with a 302 to the console; here that answer is a page that moves
on at once, because Playwright does not route the target of a redirect it fulfilled, and the console page
must come through the route that gives it its AWS CSP.
Not covered: Cognito's real hosted pages and its real token lifetimes, and IAM evaluating
``ConsoleOperatorRole``'s policy (tests/template checks the policy).
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.console import console_url, post_openwa, screenshot
from support.paths import ROOT

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
pytestmark = pytest.mark.slow

REGION = "us-east-1"
LOGIN_DOMAIN = f"https://chatbridge-test.auth.{REGION}.amazoncognito.com"
IDENTITY = f"https://cognito-identity.{REGION}.amazonaws.com/"
USER, PASSWORD = "operator@example.com", "Corr3ct-horse-battery"


def _aws_csp() -> str:
    """The Content-Security-Policy the console function sends on AWS (not the local stack's)."""
    spec = importlib.util.spec_from_file_location("console_function_app_csp", ROOT / "functions/console/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._csp(REGION)


@pytest.fixture(scope="module")
def cognito():
    """moto's Cognito (user pool, app client, an operator, identity pool) behind a loopback server."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {"region_name": REGION, "endpoint_url": f"http://{host}:{port}", "aws_access_key_id": "testing",
               "aws_secret_access_key": "testing"}
    idp = boto3.client("cognito-idp", **options)
    pool = idp.create_user_pool(PoolName="chatbridge-console")["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="console", GenerateSecret=False,
                                         ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH",
                                                            "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    idp.admin_create_user(UserPoolId=pool, Username=USER, TemporaryPassword="Temp0rary-pass")
    idp.admin_set_user_password(UserPoolId=pool, Username=USER, Password=PASSWORD, Permanent=True)
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool}"
    identity_pool = boto3.client("cognito-identity", **options).create_identity_pool(
        IdentityPoolName="chatbridge_console", AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client["ClientId"]}])["IdentityPoolId"]
    yield {"endpoint": options["endpoint_url"], "idp": idp, "pool": pool, "client_id": client["ClientId"],
           "provider": provider, "identity_pool": identity_pool}
    server.stop()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class HostedUi:
    """Cognito's hosted UI and OAuth endpoints, as the browser sees them (see the module docstring)."""

    cognito: dict
    redirect_uri: str
    codes: dict = field(default_factory=dict)
    token_requests: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    expires_in: int = 3600  # the tokens' life in seconds, as the answer states it
    refresh_tokens: set = field(default_factory=set)

    def handle(self, route):
        request = route.request
        path = urlsplit(request.url).path
        if path == "/oauth2/authorize" and request.method == "GET":
            return self._authorize(route, parse_qs(urlsplit(request.url).query))
        if path == "/login" and request.method == "POST":
            return self._login(route, parse_qs(request.post_data or ""))
        if path == "/oauth2/token" and request.method == "POST":
            return self._token(route, request)
        return route.fulfill(status=404, body="not found")

    def _refuse(self, route, reason, status=400, cors=None):
        self.refusals.append(reason)
        headers = {"Access-Control-Allow-Origin": cors} if cors else {}
        return route.fulfill(status=status, headers=headers, content_type="application/json",
                             body=json.dumps({"error": reason}))

    def _authorize(self, route, query):
        one = {name: values[0] for name, values in query.items()}
        if one.get("response_type") != "code" or one.get("client_id") != self.cognito["client_id"]:
            return self._refuse(route, "unauthorized_client")
        if one.get("redirect_uri") != self.redirect_uri:
            return self._refuse(route, "redirect_mismatch")
        if one.get("code_challenge_method") != "S256" or not re.fullmatch(r"[A-Za-z0-9_-]{43}", one.get("code_challenge", "")):
            return self._refuse(route, "invalid_request: PKCE S256 challenge required")
        if "openid" not in one.get("scope", "").split() or not one.get("state"):
            return self._refuse(route, "invalid_request: scope openid and state required")
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in one.items())
        return route.fulfill(status=200, content_type="text/html", body=(
            "<!doctype html><title>Sign in</title><form method=post action=/login>"
            f"{hidden}<label>Username <input name=username></label>"
            "<label>Password <input name=password type=password></label><button>Sign in</button></form>"))

    def _login(self, route, form):
        one = {name: values[0] for name, values in form.items()}
        try:
            tokens = self.cognito["idp"].admin_initiate_auth(
                UserPoolId=self.cognito["pool"], ClientId=self.cognito["client_id"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": one.get("username", ""), "PASSWORD": one.get("password", "")})
        except self.cognito["idp"].exceptions.NotAuthorizedException:
            return route.fulfill(status=200, content_type="text/html", body="<p>Incorrect username or password.</p>")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"challenge": one["code_challenge"], "redirect_uri": one["redirect_uri"],
                            "client_id": one["client_id"], "tokens": tokens["AuthenticationResult"]}
        location = f"{one['redirect_uri']}?{urlencode({'code': code, 'state': one['state']})}"
        # Cognito answers 302; Playwright does not route the target of a redirect it fulfilled, and the console
        # page must come through `document` (its AWS CSP), so this page moves on at once instead
        return route.fulfill(status=200, content_type="text/html",
                             body=f'<!doctype html><meta http-equiv="refresh" content="0;url={html.escape(location)}">')

    def _token(self, route, request):
        origin = request.all_headers().get("origin")
        self.token_requests.append(request.post_data)
        if not request.all_headers().get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self._refuse(route, "invalid_request: form body expected", cors=origin)
        form = {name: values[0] for name, values in parse_qs(request.post_data or "").items()}
        if form.get("grant_type") == "refresh_token":
            return self._refresh(route, form, origin)
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._refuse(route, "invalid_grant", cors=origin)
        if form.get("client_id") != grant["client_id"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return self._refuse(route, "invalid_grant: client or redirect_uri differs", cors=origin)
        if _b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest()) != grant["challenge"]:
            return self._refuse(route, "invalid_grant: code_verifier does not match the challenge", cors=origin)
        tokens = grant["tokens"]
        self.refresh_tokens.add(tokens["RefreshToken"])
        return route.fulfill(status=200, headers={"Access-Control-Allow-Origin": origin}, content_type="application/json",
                             body=json.dumps({"id_token": tokens["IdToken"], "access_token": tokens["AccessToken"],
                                              "refresh_token": tokens["RefreshToken"], "expires_in": self.expires_in,
                                              "token_type": "Bearer"}))

    def _refresh(self, route, form, origin):
        """The refresh grant: new ID and access tokens from moto's pool, no new refresh token (as Cognito)."""
        if form.get("client_id") != self.cognito["client_id"] or form.get("refresh_token") not in self.refresh_tokens:
            return self._refuse(route, "invalid_grant: unknown refresh token", cors=origin)
        tokens = self.cognito["idp"].admin_initiate_auth(
            UserPoolId=self.cognito["pool"], ClientId=self.cognito["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": form["refresh_token"]})["AuthenticationResult"]
        return route.fulfill(status=200, headers={"Access-Control-Allow-Origin": origin}, content_type="application/json",
                             body=json.dumps({"id_token": tokens["IdToken"], "access_token": tokens["AccessToken"],
                                              "expires_in": self.expires_in, "token_type": "Bearer"}))


@dataclass
class IamAuthoriser:
    """Checks each /admin request's SigV4 signature as API Gateway would, then lets it through."""

    identity_calls: list = field(default_factory=list)
    issued: dict = field(default_factory=dict)
    checked: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    secret_key: str | None = None  # the key IAM holds for the issued access key id (default: the one issued)
    credentials_life: int | None = None  # seconds the issued credentials live (default: what moto says)

    def identity(self, route, endpoint):
        request = route.request
        if request.method == "OPTIONS":
            return route.fulfill(status=200, headers=_cors(request))
        target = request.all_headers().get("x-amz-target", "")
        self.identity_calls.append((target, json.loads(request.post_data or "{}")))
        response = route.fetch(url=endpoint + "/")
        body = response.json()
        if target.endswith("GetCredentialsForIdentity") and response.ok:
            if self.credentials_life is not None:
                body["Credentials"]["Expiration"] = time.time() + self.credentials_life
            self.issued = body["Credentials"]
        return route.fulfill(response=response, headers={**response.headers, **_cors(request)}, body=json.dumps(body))

    def admin(self, route):
        request = route.request
        headers = request.all_headers()
        authorization = headers.get("authorization", "")
        if not self.issued or not authorization.startswith("AWS4-HMAC-SHA256 "):
            self.refused.append((request.url, "unsigned"))
            return route.fulfill(status=403, content_type="application/json", body='{"message": "Missing Authentication Token"}')
        signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
        host = urlsplit(request.url).netloc
        aws_request = AWSRequest(method=request.method, url=request.url, data=request.post_data_buffer,
                                 headers={name: host if name == "host" else headers[name] for name in signed})
        aws_request.context["timestamp"] = headers["x-amz-date"]
        secret_key = self.secret_key or self.issued["SecretKey"]
        auth = SigV4Auth(Credentials(self.issued["AccessKeyId"], secret_key, self.issued["SessionToken"]),
                         "execute-api", REGION)
        expected = auth.signature(auth.string_to_sign(aws_request, auth.canonical_request(aws_request)), aws_request)
        credential = authorization.split("Credential=")[1].split(",")[0]
        if (not authorization.endswith(f"Signature={expected}") or headers.get("x-amz-security-token") != self.issued["SessionToken"]
                or not credential.startswith(f"{self.issued['AccessKeyId']}/") or f"/{REGION}/execute-api/" not in credential):
            self.refused.append((request.url, "signature does not match"))
            return route.fulfill(status=403, content_type="application/json",
                                 body='{"message": "The request signature we calculated does not match"}')
        self.checked.append((request.method, request.url))
        return route.continue_()


def _cors(request):
    return {"Access-Control-Allow-Origin": request.all_headers().get("origin") or "*",
            "Access-Control-Allow-Headers": "content-type, x-amz-target, x-amz-user-agent",
            "Access-Control-Allow-Methods": "POST"}


@pytest.fixture
def aws_page(page, stack, cognito):
    """The console as it runs on AWS: Cognito config, AWS CSP, hosted UI, identity pool, IAM-checked /admin."""
    console = console_url(stack)
    config = {"auth": "cognito", "region": REGION, "user_pool_id": cognito["pool"], "client_id": cognito["client_id"],
              "identity_pool_id": cognito["identity_pool"], "login_domain": LOGIN_DOMAIN,
              "provider_name": cognito["provider"]}
    hosted, iam, csp = HostedUi(cognito, redirect_uri=console), IamAuthoriser(), _aws_csp()

    def document(route):
        response = route.fetch()
        headers = {name: value for name, value in response.headers.items() if name.lower() != "content-security-policy"}
        route.fulfill(response=response, headers={**headers, "Content-Security-Policy": csp})

    page.route(re.compile(rf"^{re.escape(console)}(\?.*)?$"), document)
    page.route(f"{console}config.json", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                    body=json.dumps(config)))
    page.route(f"{LOGIN_DOMAIN}/**", hosted.handle)
    page.route(f"{IDENTITY}**", lambda route: iam.identity(route, cognito["endpoint"]))
    page.route(re.compile(rf"^{re.escape(stack.url)}/admin/.*"), iam.admin)
    return page, hosted, iam


def _sign_in(page, stack, fragment="#/chats", password=PASSWORD):
    page.goto(console_url(stack, fragment))
    page.wait_for_url(re.compile(rf"^{re.escape(LOGIN_DOMAIN)}/oauth2/authorize\?"))
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_operator_signs_in_with_code_and_pkce_and_every_admin_call_is_sigv4_signed(aws_page, stack):
    page, hosted, iam = aws_page
    post_openwa(stack, sender="447700900501", text="Signed-in hello", nick="Cognito Cora")
    _sign_in(page, stack)
    # back on the console: the code was exchanged (with the verifier) and left out of the address bar
    expect(page.locator("#who")).to_have_text("signed in")
    expect(page.locator("#chat-list .chat-row", has_text="Cognito Cora")).to_be_visible()
    assert page.url == console_url(stack, "#/chats")
    assert hosted.refusals == [] and len(hosted.token_requests) == 1
    assert "code_verifier=" in hosted.token_requests[0]
    targets = [target for target, _ in iam.identity_calls]
    assert targets[:2] == ["AWSCognitoIdentityService.GetId", "AWSCognitoIdentityService.GetCredentialsForIdentity"]
    logins = iam.identity_calls[0][1]["Logins"]
    assert list(logins) == [aws_page[1].cognito["provider"]] and logins[aws_page[1].cognito["provider"]].count(".") == 2
    assert iam.refused == []
    assert ("GET", f"{stack.url}/admin/chats") in [(m, u.split("?")[0]) for m, u in iam.checked]

    # a signed POST with a body (a reply) passes the same check and reaches the stack
    page.locator("#chat-list .chat-row", has_text="Cognito Cora").locator("a").click()
    expect(page.get_by_role("log")).to_contain_text("Signed-in hello")
    reply = page.get_by_label("Reply")
    reply.fill("Signed reply ✓ ünïcode")
    reply.press("Enter")
    expect(page.get_by_role("log").locator("li.message.operator", has_text="Signed reply").locator(".delivery-sent")).to_be_visible()
    assert any(method == "POST" and url.endswith("/messages") for method, url in iam.checked)
    assert iam.refused == []
    screenshot(page, "signed-in")


def test_a_sign_in_answer_whose_state_was_not_issued_here_is_refused(aws_page, stack):
    page, hosted, _ = aws_page
    page.goto(console_url(stack, "?code=stolen-code&state=forged-state"))
    expect(page.locator("#main .error")).to_contain_text("sign-in state does not match; start again")
    assert hosted.token_requests == []  # the code was never sent anywhere


def test_without_a_valid_signature_the_admin_api_is_refused_and_the_console_says_so(aws_page, stack):
    page, _, iam = aws_page
    _sign_in(page, stack)
    expect(page.locator("#who")).to_have_text("signed in")
    iam.secret_key = "not-the-key-moto-issued"  # as if the page signed with credentials IAM does not know
    page.get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("status")).to_contain_text("signature")
    assert iam.refused and iam.refused[-1][1] == "signature does not match"


def test_expiring_tokens_are_refreshed_and_the_new_id_token_buys_new_credentials(aws_page, stack):
    page, hosted, iam = aws_page
    hosted.expires_in = 30  # under the console's one-minute margin: every credential fetch refreshes first
    iam.credentials_life = 30
    _sign_in(page, stack)
    expect(page.locator("#who")).to_have_text("signed in")
    page.get_by_role("link", name="Integrations").click()
    expect(page.locator("tr[data-identifier='openwa-demo']")).to_be_visible()
    def targets():
        return [target.rsplit(".", 1)[1] for target, _ in iam.identity_calls]

    # the views' later admin calls each fetch credentials again; on a loaded box they may still be on their way
    for _ in range(200):
        if targets().count("GetCredentialsForIdentity") >= 2:
            break
        page.wait_for_timeout(100)
    grants = [parse_qs(body)["grant_type"][0] for body in hosted.token_requests]
    assert grants[0] == "authorization_code" and "refresh_token" in grants[1:], grants
    assert hosted.refusals == [] and iam.refused == []
    targets = targets()
    # credentials that expire are fetched again with the refreshed ID token; the identity id is asked once
    assert targets.count("GetId") == 1 and targets.count("GetCredentialsForIdentity") >= 2, targets
