"""What Chinese mail clients write into headers, and what a county's file must still be called when it arrives."""
from __future__ import annotations

import base64
import email

from xlperf.season.mailnames import RECEIVE_POLICY, attachment_filename, decode_header_text

NAME = "绥宁县医疗保障局自评表.xlsx"


def _part(header_bytes: bytes):
    raw = b"Content-Type: application/octet-stream\r\n" + header_bytes + b"\r\n\r\nAAAA\r\n"
    return email.message_from_bytes(raw, policy=RECEIVE_POLICY)


def test_old_foxmail_sends_the_file_name_as_raw_gbk_bytes__it_arrives_in_chinese():
    part = _part(b'Content-Disposition: attachment; filename="' + NAME.encode("gbk") + b'"')
    assert attachment_filename(part) == NAME


def test_a_client_sending_raw_utf8_bytes_in_the_subject__is_read_as_utf8_not_gbk():
    msg = email.message_from_bytes("Subject: 关于报送2024年度自评表\r\n\r\nbody".encode("utf-8"), policy=RECEIVE_POLICY)
    assert decode_header_text(msg["Subject"]) == "关于报送2024年度自评表"


def test_outlook_puts_an_encoded_word_inside_the_quoted_name__it_is_decoded():
    word = "=?gb2312?B?" + base64.b64encode(NAME.encode("gbk")).decode() + "?="
    part = _part(f'Content-Disposition: attachment; filename="{word}"'.encode())
    assert attachment_filename(part) == NAME


def test_gbk_text_labelled_gb2312__decodes_characters_outside_gb2312():
    text = "镕"   # in GBK, not in GB2312
    word = "=?gb2312?B?" + base64.b64encode(text.encode("gbk")).decode() + "?="
    assert decode_header_text(word) == text


def test_webmail_splits_one_character_across_two_encoded_words__it_survives():
    data = "自评表".encode("utf-8")
    a, b = data[:4], data[4:]                     # 4 bytes: cuts 评 in the middle
    header = f"=?utf-8?B?{base64.b64encode(a).decode()}?= =?utf-8?B?{base64.b64encode(b).decode()}?="
    assert decode_header_text(header) == "自评表"


def test_rfc2231_name_from_thunderbird_wins_over_the_legacy_name_parameter():
    quoted = "".join(f"%{b:02X}" for b in NAME.encode("utf-8"))
    part = _part(f"Content-Disposition: attachment; filename*=utf-8''{quoted}".encode()
                 + b'\r\nX-Legacy: 1')
    assert attachment_filename(part) == NAME


def test_a_windows_client_sends_the_full_path__only_the_file_name_is_kept():
    part = _part('Content-Disposition: attachment; filename="C:\\\\Users\\\\县局\\\\桌面\\\\{}"'.format(NAME).encode("utf-8"))
    assert attachment_filename(part) == NAME
