"""Secrets in a cell's text are masked, keeping enough to recognise them; ordinary code is not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbprofile.redact import ELLIPSIS, hide, mask, mask_all, mask_optional, reference_mask

# realistic fake keys: their shapes, not anyone's keys
OPENAI = ("sk-proj-" + "Zq8LmN4vXr2TbW9yHc7KdJ5sFg3Pa1Qe6Uo0Ri-Ey_Tu8Iw2Oq4Ma6Nb9Vc3Xz5Lk7Jh1Gf0"
          + "Ds_De4Rt6Yu8f3a9")
LEGACY = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4"
SVCACCT = "sk-svcacct-" + "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34"
ANTHROPIC = "sk-ant-api03-" + "Xy7Zw8Vu9Ts0Rq1Po2Nm3Lk4Ji5Hg6Fe7Dc8Ba9Zy0Xw1Vu2Ts3Rq4Po5Nm6-Lk7JiAA"
HF = "hf_" + "KqWeRtYuIoPaSdFgHjKlZxCvBnMq12345"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SESSION_ID = "ASIA" + "Y34FZKBOKMUTVV7A"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB = "ghp_" + "1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV0123"
GOOGLE = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
SLACK = "xoxb-" + "2048-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
       "aFDrBz9vFqU4yd6ymzBuqlqvU1ZsAGNbBjkFA4WfT8qUq5Ch1LRq\n-----END RSA PRIVATE KEY-----")

# (cell text, what it is masked to)
MASKED = [
    # provider keys, by shape, anywhere
    (f"client = OpenAI(api_key='{OPENAI}')", "client = OpenAI(api_key='sk-proj-…f3a9')"),
    (f"OpenAI(api_key=\"{OPENAI}\")", "OpenAI(api_key=\"sk-proj-…f3a9\")"),
    (f"key = {LEGACY!r}", "key = 'sk-…W3x4'"),
    (f"print('{SVCACCT}')", "print('sk-svcacct-…Wx34')"),
    (f"Anthropic(api_key='{ANTHROPIC}')", "Anthropic(api_key='sk-ant-…JiAA')"),
    (f"login('{HF}')", "login('hf_…2345')"),
    (f"boto3.client('s3', aws_access_key_id='{AWS_ID}')",
     "boto3.client('s3', aws_access_key_id='AKIA…MPLE')"),
    (f"creds = ('{AWS_SESSION_ID}', x)", "creds = ('ASIA…VV7A', x)"),
    (f"Github('{GITHUB}')", "Github('ghp_…7q8R')"),
    (f"g = Github({GITHUB_PAT!r})", "g = Github('github_pat_…0123')"),
    (f"genai.configure(api_key='{GOOGLE}')", "genai.configure(api_key='AIza…MBWY')"),
    (f"WebClient(token='{SLACK}')", "WebClient(token='xoxb-…UvWx')"),
    ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "stripe.api_key = 'sk_live_…p7dc'"),
    ("gl = Gitlab(private_token='glpat-xxxxXXXX1234yyyyZZZZ')", "gl = Gitlab(private_token='glpat-…ZZZZ')"),
    # f-strings and plain text: a literal key is a key wherever it is
    (f"url = f'https://api.x/v1?key={GOOGLE}&q={{q}}'", "url = f'https://api.x/v1?key=AIza…MBWY&q={q}'"),
    (f"# my key: {OPENAI}", "# my key: sk-proj-…f3a9"),
    # headers
    (f'headers = {{"Authorization": "Bearer {JWT}"}}', 'headers = {"Authorization": "Bearer …sR8U"}'),
    (f"!curl -H 'Authorization: Bearer {OPENAI}' https://api.openai.com",
     "!curl -H 'Authorization: Bearer sk-proj-…f3a9' https://api.openai.com"),
    ("requests.get(u, headers={'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='})",
     "requests.get(u, headers={'Authorization': 'Basic …'})"),
    ("auth = 'Bearer 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b'", "auth = 'Bearer …4f1b'"),
    ("authorization: token 1234567890abcdef1234", "authorization: token …1234"),
    # values assigned to a secret's name
    ("api_key = 'a1b2c3d4e5f6g7h8i9j0'", "api_key = '…i9j0'"),
    ('config = {"password": "hunter2hunter2"}', 'config = {"password": "…"}'),
    ("db.connect(user='me', passwd='s3cr3t-pw')", "db.connect(user='me', passwd='…')"),
    ("conn = connect(password = 'correct-horse')", "conn = connect(password = '…')"),
    ("os.environ['OPENAI_API_KEY'] = 'abcdefghijklmnopqrstu'", "os.environ['OPENAI_API_KEY'] = '…rstu'"),
    ("SECRET_KEY = 'django-insecure-abc123'", "SECRET_KEY = '…c123'"),
    ("client_secret: str = 'Q8~abc.DEF_ghi-1234'", "client_secret: str = '…1234'"),
    (f"aws_secret_access_key = '{AWS_SECRET}'", "aws_secret_access_key = '…EKEY'"),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = …EKEY"),
    ("%env OPENAI_API_KEY=abcdefghijklmnop1234", "%env OPENAI_API_KEY=…1234"),
    ("!export DB_PASSWORD=changeme-now && run", "!export DB_PASSWORD=… && run"),
    ("PASSWORD = 'a-long-passphrase-of-words'", "PASSWORD = '…'"),  # a password keeps no tail
    (f"%env HF_TOKEN={HF}", "%env HF_TOKEN=hf_…2345"),
    (f"hf_token = '{HF}'", "hf_token = 'hf_…2345'"),
    ("open('http://localhost:8888/lab?token=4f1b9c2e7a8d3f6b0c5e9a2d7f1b4c8e&reset')",
     "open('http://localhost:8888/lab?token=…4c8e&reset')"),
    ("requests.get('https://api.x/v1?api_key=ab12cd34ef56gh78ij90')", "requests.get('https://api.x/v1?api_key=…ij90')"),
    # URLs with a password
    ("engine = create_engine('postgresql://user:pass@host/db')", "engine = create_engine('postgresql://user:…@host/db')"),
    ("r = redis.from_url('redis://:p4ssw0rd@cache:6379/0')", "r = redis.from_url('redis://:…@cache:6379/0')"),
    (f"git clone https://{GITHUB}:x-oauth-basic@github.com/o/r",
     "git clone https://ghp_…7q8R:…@github.com/o/r"),
    # private keys
    (f"key = '''{PEM}'''\nprint(1)",
     "key = '''-----BEGIN RSA PRIVATE KEY-----…-----END RSA PRIVATE KEY-----'''\nprint(1)"),
    ('k = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nBKcwggSjAgEAAoIBAQC7"',
     'k = "-----BEGIN PRIVATE KEY-----…"'),
    # one secret's literal starting inside another's (``sk-`` then ``-----BEGIN``)
    ("SK-----BEGIN PRIVATE KEY-----AAAABCEEIIIKMQow", "SK-----BEGIN PRIVATE KEY-----…"),
]

# ordinary code that only names a secret, or whose values are too short or not literal
UNCHANGED = [
    "client = OpenAI(api_key=os.environ['OPENAI_API_KEY'])",
    "api_key = os.getenv('OPENAI_API_KEY')",
    "token=None",
    "password = getpass.getpass()",
    "password = config.password",
    "token = tok_v2",
    "api_key = settings.openai_api_key_2024",
    "connect(token=session_token, user=user_2)",
    "API_KEY=os.environ['X']",
    "API_KEY=get_key()",
    'headers = {"Authorization": f"Bearer {token}"}',
    'headers = {"Authorization": "Bearer " + token}',
    "tokenizer.pad_token = tokenizer.eos_token",
    "tokenizer.add_special_tokens({'pad_token': '[PAD]', 'eos_token': '<|endoftext|>'})",
    "pad_token = '<pad>'",
    "password = 'short'",
    "tokenizer_name = 'bert-base-uncased'",
    "max_tokens = 4096",
    "num_tokens = 'abcdefghijkl'",
    "for key in d.keys():\n    print(key)",
    "sorted(rows, key=lambda r: r['secret_count'])",
    "Bearer authentication is explained below",
    "# Basic usage of the API",
    "url = 'https://example.com:8080/path@v2'",
    "url = f'postgresql://{user}:{password}@{host}/db'",
    "disk-usage-report-for-the-cluster-2024",
    "task = 'sk-learn style estimator'",
    "x = 'AKIA'",
    "import sklearn\nmodel = sklearn.linear_model.LinearRegression()",
    "df = pd.read_csv('data.csv')\ndf.groupby('key').sum()",
    "",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_secrets_are_masked_keeping_their_prefix_and_last_four(text: str, expected: str) -> None:
    assert mask(text) == expected
    assert mask(expected) == expected  # masking again changes nothing


@pytest.mark.parametrize("text", UNCHANGED)
def test_ordinary_code_is_left_as_written(text: str) -> None:
    assert mask(text) == text


def test_a_cell_with_several_secrets_keeps_its_code_around_them() -> None:
    cell = (f"import os\nfrom openai import OpenAI\nclient = OpenAI(api_key='{OPENAI}')\n"
            f"HF = '{HF}'\nh = {{'Authorization': 'Bearer {JWT}'}}\nprint(client.models.list())\n")
    masked = mask(cell)
    assert masked == ("import os\nfrom openai import OpenAI\nclient = OpenAI(api_key='sk-proj-…f3a9')\n"
                      "HF = 'hf_…2345'\nh = {'Authorization': 'Bearer …sR8U'}\nprint(client.models.list())\n")
    for secret in (OPENAI, HF, JWT, OPENAI[8:-4], HF[3:-4], JWT[:-4]):
        assert secret not in masked


def test_hide_keeps_a_long_secrets_last_four_and_a_short_ones_none() -> None:
    assert hide(OPENAI) == "sk-proj-…f3a9"
    assert hide("abcdefghijklmnop") == "…mnop"  # 16 characters: the last four of them
    assert hide("abcdefghijklmno") == ELLIPSIS  # 15: none
    assert hide("hf_") == ELLIPSIS  # a prefix alone keeps nothing, and is no longer than it was
    assert hide("sk-proj-…f3a9") == "sk-proj-…f3a9"
    assert hide(OPENAI, tail=False) == "sk-proj-…"


def test_helpers_for_optional_text_and_lists() -> None:
    assert mask_optional(None) is None
    assert mask_optional(f"k={HF!r}") == "k='hf_…2345'"
    assert mask_all(["fine", f"auth failed for {OPENAI}"]) == ["fine", "auth failed for sk-proj-…f3a9"]


# -- properties: any text at all ---------------------------------------------------------------

PIECES = st.sampled_from([
    OPENAI, LEGACY, ANTHROPIC, HF, AWS_ID, AWS_SECRET, GITHUB, GITHUB_PAT, GOOGLE, SLACK, JWT, PEM,
    "api_key=", "password", ": ", " = ", "'", '"', "Authorization", "Bearer ", "Basic ", "://", "user", ":",
    "@", "host", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", "\n", "\\n", "…", "{", "}",
    "os.environ['KEY']", "token", "=", "sk-", "hf_", "ghp_", "AKIA", "1234567890abcdefXYZ", "\ud800", " ",
])
TEXT = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=12).map("".join))


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_masking_is_idempotent_never_longer_and_never_raises(text: str) -> None:
    once = mask(text)  # lone surrogates included: no exception
    assert mask(once) == once
    assert len(once) <= len(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([OPENAI, LEGACY, ANTHROPIC, HF, GITHUB, GITHUB_PAT, GOOGLE, SLACK, AWS_ID]),
       st.text(alphabet=" \n()=,;'\"", min_size=1, max_size=3),
       st.text(alphabet=" \n()=,;'\"", min_size=1, max_size=3))
def test_a_key_between_any_punctuation_is_masked(key: str, before: str, after: str) -> None:
    masked = mask(f"x{before}{key}{after}y")
    assert key not in masked and ELLIPSIS in masked


@settings(max_examples=2000, deadline=None)
@given(TEXT)
def test_the_quick_scan_finds_every_secret_a_full_pass_finds(text: str) -> None:
    # mask() tries the expression only where the lower-cased text starts a secret's literal
    assert mask(text) == reference_mask(text)
