"""Click's own words in Chinese: usage lines, section titles, help and error messages.

Click marks its strings for gettext but ships no catalogues, and `gettext`
only reads compiled .mo files. The catalogue is small and fixed, so it lives
here as a dict and is handed to click's modules in place of their `_` and
`ngettext`; a string missing from it stays English rather than failing.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import unicodedata

import click
from click.formatting import HelpFormatter

CATALOG: dict[str, str] = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "运行“{command} {option}”查看帮助。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing command.": "缺少命令。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "Did you mean {possibility}?": "是否想输入 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（是否想输入其中之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多出了参数（{args}）",
    "Got unexpected extra arguments ({args})": "多出了参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name!r} 后面需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 后面需要 {nargs} 个值。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Invalid value: {message}": "取值无效：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值无效：{message}",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} 不是有效的是/否值，可用：{states}",
    "{value!r} is not {choice}.": "{value!r} 不是 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不在可选值 {choices} 之中。",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件，不是文件夹。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是文件夹，不是文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 无法读取。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 无法写入。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "default: {default}": "默认：{default}",
    "required": "必填",
    "env var: {var}": "环境变量：{var}",
    "(dynamic)": "（动态）",
    "Aborted!": "已中止。",
    "unknown error": "未知错误",
    "Do you want to continue?": "是否继续？",
    "Repeat for confirmation": "请再输入一次确认",
}

# Metavars are attributes, not gettext strings.
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."

_MODULES = ("click.core", "click.exceptions", "click.formatting", "click.decorators", "click.parser",
            "click.types", "click.termui")


def gettext(message: str) -> str:
    return CATALOG.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")
TYPE_NAMES = {click.STRING: "文本", click.INT: "整数", click.FLOAT: "数字", click.BOOL: "是/否"}


def display_len(text: str) -> int:
    """Columns a string takes in a terminal: a Chinese character takes two, so the
    option and command lists line up."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in _ANSI.sub("", text))


class ChineseHelpFormatter(HelpFormatter):
    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")


PIPED_WIDTH = 4000


class ChineseContext(click.Context):
    """Chinese section headings; help piped to a file keeps whole lines (no 80-column folding)."""

    formatter_class = ChineseHelpFormatter

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.terminal_width is None and not os.environ.get("COLUMNS") and not _is_terminal(sys.stdout):
            self.terminal_width = self.max_content_width = PIPED_WIDTH


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def install() -> None:
    """Give click's modules the Chinese catalogue (call before commands are declared)."""
    for name in _MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext
    importlib.import_module("click.formatting").term_len = display_len
    for kind, zh in TYPE_NAMES.items():
        kind.name = zh


def localize(group) -> None:
    """Chinese headings, [选项] and 命令 [参数]... for a group and all its commands."""
    group.options_metavar = OPTIONS_METAVAR
    group.subcommand_metavar = SUBCOMMAND_METAVAR
    group.context_class = ChineseContext
    for command in group.commands.values():
        command.options_metavar = OPTIONS_METAVAR
        command.context_class = ChineseContext
