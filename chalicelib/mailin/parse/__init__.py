"""Reading one raw inbound message (bytes, as SES stores it in S3) into what the desk needs (pure).

`parse_inbound` returns the sender, the recipients, the thread ids, whether the
message is machine mail that must be dropped (auto-reply, bounce, list), and
the new text the person wrote: the plain part (or the HTML part turned into
text), with quoted text, the reply header of the person's mail client and
signature-ish trailers removed. Anything wrong with the message raises
`MalformedMail` and nothing else.

One module per concern, in the order a message goes through them:
- `mime`: size limits checked before the stdlib parser, the text parts, their
  transfer encoding and format=flowed;
- `charsets`: bytes to text (ISO-2022-JP with the CP932 additions, Shift_JIS,
  the labels clients use that Python does not know);
- `headers`: From, To, Cc, the message ids and encoded words, read from the
  raw header text by small linear parsers;
- `machine_mail`: bounces, auto-replies, lists and read receipts;
- `html_text`: HTML bodies as text, in linear time on hostile markup;
- `quoting`: quoted text, reply headers and signatures of each mail client;
- `inbound`: all of the above put together into an `InboundMail`.

The hand-written parts stay because the maintained libraries, measured on the
fixtures in tests/fixtures/mail, get most replies wrong: mail-parser-reply finds
the new text of 3 of the 8 client replies (no Japanese Outlook, Thunderbird or
iPhone one), and html2text, inscriptis and selectolax convert 1, 0 and 0 of the
5 HTML replies as the desk needs them (quote containers and Outlook's reply
header dropped, blocks as lines). Neither html2text (built on `html.parser`)
nor selectolax (Lexbor: 80,000 nested `<div>` take 12.6 s to parse, 40,000
take 2.6 s) passes the hostile-markup test that the tokenizer here passes in
under 2 s per case.
"""

from chalicelib.mailin.parse.exceptions import MalformedMail
from chalicelib.mailin.parse.html_text import html_to_text
from chalicelib.mailin.parse.inbound import DEFAULT_MAX_BYTES, InboundMail, parse_inbound
from chalicelib.mailin.parse.quoting import strip_quoted_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "InboundMail",
    "MalformedMail",
    "html_to_text",
    "parse_inbound",
    "strip_quoted_text",
]
