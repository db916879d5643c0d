# ruff: noqa: RUF001  (the folding table is made of look-alike characters on purpose)
"""ASCII folding of tokens, after Lucene's `ASCIIFoldingFilter` (which Qdrant mirrors).

Qdrant folds accented Latin letters, ligatures and a few symbols to ASCII with
a table translated from Lucene.  This module derives the same kind of mapping
from Unicode data: a character is replaced by its compatibility decomposition
stripped of combining marks when that is pure ASCII (`é` -> `e`, `ﬁ` -> `fi`,
`Ⓐ` -> `A`), and a small explicit table covers the letters that have no
decomposition (`ß`, `æ`, `ø`, `ł`, `đ`, `þ`, ...).  Anything else is kept.
"""

from __future__ import annotations

import functools
import unicodedata

_SPECIAL: dict[str, str] = {
    "Æ": "AE", "æ": "ae", "Ǣ": "AE", "ǣ": "ae", "Ǽ": "AE", "ǽ": "ae", "ᴁ": "AE", "ᴂ": "ae",
    "Ð": "D", "ð": "d", "Đ": "D", "đ": "d", "Ɖ": "D", "Ɗ": "D", "Ƌ": "D", "ƌ": "d",
    "ȡ": "d", "ɖ": "d", "ɗ": "d", "ᴅ": "D", "ᴆ": "D",
    "Ø": "O", "ø": "o", "Ǿ": "O", "ǿ": "o", "Ɔ": "O", "Ɵ": "O", "ɔ": "o", "ɵ": "o",
    "ᴏ": "O", "ᴐ": "O", "ᴓ": "o",
    "Œ": "OE", "œ": "oe", "ɶ": "OE", "ᴔ": "oe", "Ȣ": "OU", "ȣ": "ou", "ᴕ": "OU",
    "Þ": "TH", "þ": "th", "Ꝧ": "TH", "ꝧ": "th",
    "ß": "ss", "ẞ": "SS", "ſ": "s", "ȿ": "s", "ʂ": "s", "ẜ": "s", "ẝ": "s",
    "Ł": "L", "ł": "l", "Ƚ": "L", "ƚ": "l", "Ŀ": "L", "ŀ": "l", "ȴ": "l", "ɫ": "l",
    "ɬ": "l", "ɭ": "l", "ʟ": "L", "ᴌ": "L", "Ⱡ": "L", "ⱡ": "l", "Ɫ": "L",
    "Ħ": "H", "ħ": "h", "ɥ": "h", "ɦ": "h", "ʜ": "H", "Ⱨ": "H", "ⱨ": "h",
    "ı": "i", "Ɩ": "I", "Ɨ": "I", "ɨ": "i", "ɪ": "I", "ᵻ": "I", "ᵼ": "i",
    "Ŧ": "T", "ŧ": "t", "Ƭ": "T", "ƭ": "t", "Ʈ": "T", "ƫ": "t", "Ⱦ": "T", "ʈ": "t",
    "ȶ": "t", "ᴛ": "T",
    "ƀ": "b", "Ɓ": "B", "Ƃ": "B", "ƃ": "b", "Ƀ": "B", "ɓ": "b", "ʙ": "B", "ᴃ": "B",
    "Ƈ": "C", "ƈ": "c", "Ȼ": "C", "ȼ": "c", "ɕ": "c", "ᴄ": "C",
    "Ɛ": "E", "ɛ": "e", "Ǝ": "E", "ǝ": "e", "Ɇ": "E", "ɇ": "e", "ə": "a", "ɘ": "e",
    "ɜ": "e", "ɝ": "e", "ɞ": "e", "ʚ": "e", "ᴇ": "E",
    "Ƒ": "F", "ƒ": "f",
    "Ɠ": "G", "Ǥ": "G", "ǥ": "g", "ɠ": "g", "ɡ": "g", "ɢ": "G", "ʛ": "G",
    "Ɉ": "J", "ɉ": "j", "ɟ": "j", "ʄ": "j", "ȷ": "j", "ᴊ": "J",
    "Ƙ": "K", "ƙ": "k", "Ⱪ": "K", "ⱪ": "k", "ᴋ": "K", "ʞ": "k",
    "Ɯ": "M", "ɯ": "m", "ɰ": "m", "ɱ": "m", "ᴍ": "M",
    "Ɲ": "N", "ɲ": "n", "ɳ": "n", "Ƞ": "N", "ƞ": "n", "ȵ": "n", "ɴ": "N", "ᴎ": "N",
    "Ŋ": "N", "ŋ": "n",
    "Ƥ": "P", "ƥ": "p", "ᴘ": "P", "Ᵽ": "P",
    "Ɋ": "Q", "ɋ": "q", "ʠ": "q", "ĸ": "q",
    "Ɍ": "R", "ɍ": "r", "ɼ": "r", "ɽ": "r", "ɾ": "r", "ɿ": "r", "ʀ": "R", "ʁ": "R",
    "ᴙ": "R", "ᴚ": "R", "Ɽ": "R",
    "Ʉ": "U", "ʉ": "u", "ᴜ": "U", "Ʋ": "V", "ʋ": "v", "Ʌ": "V", "ʌ": "v", "ᴠ": "V",
    "ⱱ": "v", "ⱴ": "v", "Ƿ": "W", "ᴡ": "W", "Ƴ": "Y", "ƴ": "y", "Ɏ": "Y", "ɏ": "y",
    "ʏ": "Y", "Ƶ": "Z", "ƶ": "z", "Ȥ": "Z", "ȥ": "z", "ɀ": "z", "ʐ": "z", "ʑ": "z",
    "Ⱬ": "Z", "ⱬ": "z", "ᴢ": "Z", "Ʒ": "Z", "ʒ": "z",
    "ƕ": "hv", "Ƕ": "HV", "ʣ": "dz", "ʥ": "dz", "ʤ": "dz", "ȸ": "db", "ȹ": "qp",
    "ʦ": "ts", "ʨ": "tc", "ʪ": "ls", "ʫ": "lz", "Ỻ": "LL", "ỻ": "ll",
    "Ꜳ": "AA", "ꜳ": "aa", "Ꜵ": "AO", "ꜵ": "ao", "Ꜷ": "AU", "ꜷ": "au", "Ꜹ": "AV",
    "ꜹ": "av", "Ꜻ": "AV", "ꜻ": "av", "Ꜽ": "AY", "ꜽ": "ay", "Ꝏ": "OO", "ꝏ": "oo",
    "Ꜩ": "TZ", "ꜩ": "tz", "Ꝡ": "VY", "ꝡ": "vy",
    "«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "″": '"', "‶": '"', "❝": '"',
    "❞": '"', "❮": '"', "❯": '"', "＂": '"',
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "‵": "'", "‹": "'", "›": "'",
    "❛": "'", "❜": "'", "＇": "'",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "⁻": "-", "₋": "-", "－": "-",
    "⁅": "[", "❲": "[", "［": "[", "⁆": "]", "❳": "]", "］": "]",
    "⁽": "(", "₍": "(", "❨": "(", "❪": "(", "（": "(", "⁾": ")", "₎": ")", "❩": ")",
    "❫": ")", "）": ")", "❬": "<", "❰": "<", "＜": "<", "❭": ">", "❱": ">", "＞": ">",
    "❴": "{", "｛": "{", "❵": "}", "｝": "}", "⁺": "+", "₊": "+", "＋": "+",
    "⁼": "=", "₌": "=", "＝": "=", "！": "!", "‼": "!!", "⁉": "!?", "＃": "#",
    "＄": "$", "⁒": "%", "％": "%", "＆": "&", "⁎": "*", "＊": "*", "，": ",",
    "．": ".", "⁄": "/", "／": "/", "：": ":", "⁏": ";", "；": ";", "？": "?",
    "⁇": "??", "⁈": "?!", "＠": "@", "＼": "\\", "‸": "^", "＾": "^", "＿": "_",
    "⁓": "~", "～": "~",
}


@functools.lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """The ASCII replacement of one character, or the character itself."""
    if ch < "\x80":
        return ch
    special = _SPECIAL.get(ch)
    if special is not None:
        return special
    decomposed = unicodedata.normalize("NFKD", ch)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    if stripped and stripped.isascii() and stripped.strip():
        return stripped
    return ch


def fold_to_ascii(text: str) -> str:
    """`text` with every foldable character replaced by its ASCII equivalent."""
    if text.isascii():
        return text
    return "".join(fold_char(ch) for ch in text)
