"""Build the report templates templates/reports/*.docx (run: python scripts/make_report_templates.py).

The templates are data: a province opens them in Word or WPS, restyles and
rewords them, and xlperf fills the {{ … }} fields (docxtpl / Jinja2 syntax;
the fields are listed in templates/reports/README.md). This script only makes
the shipped starting point reproducible.

Typography follows Chinese official documents (GB/T 9704): A4, margins
37/35/28/26 mm, title 方正小标宋简体 二号, headings 黑体 / 楷体_GB2312 三号,
body 仿宋_GB2312 三号 (16 pt) with a 2-character first-line indent and 28 pt
lines, page numbers "— 1 —". Every font name is set for East Asian text
(w:eastAsia), and the font table names a common fallback (w:altName: 仿宋,
楷体, 黑体) for machines without the GB2312 fonts.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX, WD_LINE_SPACING
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor
from lxml import etree

OUT = Path(__file__).resolve().parent.parent / "templates" / "reports"

FANGSONG, KAITI, HEITI, XBS, SONGTI = "仿宋_GB2312", "楷体_GB2312", "黑体", "方正小标宋简体", "宋体"
LATIN = "Times New Roman"
# name → (altName, panose, pitch): what Word/WPS/LibreOffice use when the font is not installed
FONTS = {
    FANGSONG: ("仿宋", "02010609030101010101", "fixed"),
    KAITI: ("楷体", "02010609030101010101", "fixed"),
    XBS: ("黑体", "02000000000000000000", "variable"),
    HEITI: ("SimHei", "02010609060101010101", "fixed"),
    SONGTI: ("SimSun", "02010600030101010101", "variable"),
}
BODY_PT, TABLE_PT, LINE_PT = 16, 10.5, 28
CELL_MARGIN = 60          # twips (about 1 mm) left and right in table cells: narrow columns keep their words


# ---------------------------------------------------------------- styles

def _fonts(el, latin: str, east_asia: str) -> None:
    """Set the run fonts of a style or run element, East Asian text included."""
    rpr = el.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)
    for attr, name in (("w:ascii", latin), ("w:hAnsi", latin), ("w:eastAsia", east_asia), ("w:cs", latin)):
        rfonts.set(qn(attr), name)


def _indent_chars(pf_el, chars: int, size_pt: float) -> None:
    """First-line indent in characters (w:firstLineChars), with the twips value for older readers."""
    ind = pf_el.get_or_add_pPr().get_or_add_ind()        # python-docx keeps the schema's element order
    for a in list(ind.attrib):
        del ind.attrib[a]
    ind.set(qn("w:firstLineChars"), str(chars * 100))
    ind.set(qn("w:firstLine"), str(int(chars * size_pt * 20)))


def _style(doc, name: str, *, base: str | None = "Normal", font: str = FANGSONG, size: float = BODY_PT,
           bold: bool = False, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent: int = 2, line: float | None = LINE_PT,
           before: float = 0, after: float = 0, keep_next: bool = False, color=RGBColor(0, 0, 0),
           kind=WD_STYLE_TYPE.PARAGRAPH):
    styles = doc.styles
    st = styles[name] if name in [s.name for s in styles] else styles.add_style(name, kind)
    if base and st.name != base:
        st.base_style = styles[base]
    st.hidden = False
    st.quick_style = True
    el = st.element
    ppr = el.get_or_add_pPr()
    for tag in ("w:pBdr", "w:spacing", "w:numPr"):
        for old in ppr.findall(qn(tag)):
            ppr.remove(old)
    rpr = el.get_or_add_rPr()
    for tag in ("w:color", "w:sz", "w:szCs", "w:b", "w:bCs", "w:i", "w:iCs", "w:kern", "w:spacing"):
        for old in rpr.findall(qn(tag)):
            rpr.remove(old)
    _fonts(el, LATIN, font)
    st.font.size = Pt(size)
    st.font.bold = bold
    st.font.italic = False
    st.font.color.rgb = color
    pf = st.paragraph_format
    pf.alignment = align
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    pf.keep_with_next = keep_next
    pf.widow_control = True
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing = Pt(line)
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    _indent_chars(el, indent, size)
    return st


def _styles(doc) -> None:
    # document defaults: Chinese language for East Asian text, no theme fonts
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for old in rpr_default.findall(qn("w:rFonts")) + rpr_default.findall(qn("w:lang")):
        rpr_default.remove(old)
    rpr_default.insert(0, parse_xml(f'<w:rFonts {nsdecls("w")} w:ascii="{LATIN}" w:hAnsi="{LATIN}" '
                                    f'w:eastAsia="{FANGSONG}" w:cs="{LATIN}"/>'))
    rpr_default.append(parse_xml(f'<w:lang {nsdecls("w")} w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>'))
    _style(doc, "Normal", base=None)
    _style(doc, "Title", font=XBS, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, line=36, after=LINE_PT / 2)
    _style(doc, "Subtitle", font=KAITI, size=BODY_PT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, after=LINE_PT / 2)
    _style(doc, "Heading 1", font=HEITI, size=BODY_PT, keep_next=True)
    _style(doc, "Heading 2", font=KAITI, size=BODY_PT, keep_next=True)
    _style(doc, "草稿提示", font=KAITI, size=12, align=WD_ALIGN_PARAGRAPH.LEFT, indent=0, line=None, after=LINE_PT / 2)
    _style(doc, "表题", font=HEITI, size=12, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, line=None, before=6, after=4,
           keep_next=True)
    _style(doc, "表格文字", font=FANGSONG, size=TABLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, line=None)
    _style(doc, "表格文字左", base="表格文字", font=FANGSONG, size=TABLE_PT, align=WD_ALIGN_PARAGRAPH.LEFT, indent=0,
           line=None)
    _style(doc, "表头", base="表格文字", font=HEITI, size=TABLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0,
           line=None)
    _style(doc, "表注", font=FANGSONG, size=12, align=WD_ALIGN_PARAGRAPH.LEFT, indent=0, line=None, before=2, after=6)
    _style(doc, "图", align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, line=None, before=6, keep_next=True)
    _style(doc, "图题", font=HEITI, size=12, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, line=None, after=8)
    _style(doc, "说明文字", font=FANGSONG, size=12, line=20, align=WD_ALIGN_PARAGRAPH.LEFT)
    _style(doc, "落款", align=WD_ALIGN_PARAGRAPH.RIGHT, indent=0)
    _style(doc, "页码", font=SONGTI, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, indent=0, line=None)


def _font_table(doc) -> None:
    part = next(p for p in doc.part.package.parts if str(p.partname) == "/word/fontTable.xml")
    root = etree.fromstring(part.blob)
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    for name, (alt, panose, pitch) in FONTS.items():
        for old in root.findall(f"{{{w}}}font"):
            if old.get(f"{{{w}}}name") == name:
                root.remove(old)
        font = etree.SubElement(root, f"{{{w}}}font", {f"{{{w}}}name": name})
        etree.SubElement(font, f"{{{w}}}altName", {f"{{{w}}}val": alt})
        etree.SubElement(font, f"{{{w}}}panose1", {f"{{{w}}}val": panose})
        etree.SubElement(font, f"{{{w}}}charset", {f"{{{w}}}val": "86"})
        etree.SubElement(font, f"{{{w}}}family", {f"{{{w}}}val": "modern" if pitch == "fixed" else "roman"})
        etree.SubElement(font, f"{{{w}}}pitch", {f"{{{w}}}val": pitch})
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _page(doc) -> None:
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Mm(37), Mm(35), Mm(28), Mm(26)
    sec.header_distance, sec.footer_distance = Mm(15), Mm(22)
    p = sec.footer.paragraphs[0]
    p.style = doc.styles["页码"]
    p.add_run("— ")
    fld = parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple>')
    p._p.append(fld)
    p._p.append(copy.deepcopy(p.runs[0]._r))
    p.runs[-1].text = " —"


def new_document():
    doc = Document()
    _styles(doc)
    _font_table(doc)
    _page(doc)
    props = doc.core_properties
    props.author, props.title, props.comments = "xlperf", "", "由 scripts/make_report_templates.py 生成"
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    return doc


# ---------------------------------------------------------------- writing helpers

ASK = "【请补充"


def para(doc, text: str, style: str = "Normal"):
    """A paragraph; 【请补充：…】 runs are highlighted (the renderer highlights filled-in ones too)."""
    p = doc.add_paragraph(style=style)
    rest = text
    while ASK in rest:
        i = rest.index(ASK)
        j = rest.index("】", i) + 1
        if i:
            p.add_run(rest[:i])
        p.add_run(rest[i:j]).font.highlight_color = WD_COLOR_INDEX.YELLOW
        rest = rest[j:]
    if rest:
        p.add_run(rest)
    return p


def tag(doc, text: str):
    """A paragraph holding only a {%p … %} tag (removed when rendered)."""
    return doc.add_paragraph(text, style="Normal")


def table(doc, columns: list[tuple[str, str, float, str]], loop: str, *,
          footers: list[list[tuple[str, str, int]]] = (), keep: bool = True):
    """A bordered table: header row, one {%tr for %} row, then footer rows of cells (text, style, span).

    `columns` holds (header, cell template, width in mm, "c" | "l" alignment). A `keep` table
    (a short one) stays on one page; a long one may break, repeating its header.
    """
    rows = 4 + len(footers)
    t = doc.add_table(rows=rows, cols=len(columns))
    t.style = doc.styles["Table Grid"]
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False                           # w:tblLayout fixed
    margins = parse_xml(f'<w:tblCellMar {nsdecls("w")}><w:left w:w="{CELL_MARGIN}" w:type="dxa"/>'
                        f'<w:right w:w="{CELL_MARGIN}" w:type="dxa"/></w:tblCellMar>')
    look = t._tbl.tblPr.find(qn("w:tblLook"))   # schema order: … tblLayout, tblCellMar, tblLook
    if look is not None:
        look.addprevious(margins)
    else:
        t._tbl.tblPr.append(margins)
    for j, (head, cell, width, align) in enumerate(columns):
        t.columns[j].width = Mm(width)          # w:gridCol, which LibreOffice and WPS follow
        for i in range(rows):
            t.cell(i, j).width = Mm(width)
        c = t.cell(0, j)
        c.paragraphs[0].style = doc.styles["表头"]
        c.paragraphs[0].add_run(head)
        c = t.cell(2, j)
        c.paragraphs[0].style = doc.styles["表格文字左" if align == "l" else "表格文字"]
        c.paragraphs[0].add_run(cell)
    _repeat_header(t.rows[0])
    for row in t.rows:                          # a row never breaks across pages
        row._tr.get_or_add_trPr().append(parse_xml(f'<w:cantSplit {nsdecls("w")}/>'))
    for row in t.rows if keep else t.rows[:1]:  # a short table stays on one page with its caption and note
        for c in row.cells:
            c.paragraphs[0].paragraph_format.keep_with_next = True
    t.cell(1, 0).paragraphs[0].add_run(f"{{%tr for {loop} %}}")
    t.cell(3, 0).paragraphs[0].add_run("{%tr endfor %}")
    for i in (1, 3):
        for j in range(len(columns)):
            t.cell(i, j).paragraphs[0].style = doc.styles["表格文字"]
    for k, footer in enumerate(footers, 4):
        j = 0
        for text, style, span in footer:
            cell = t.cell(k, j)
            if span > 1:
                cell = cell.merge(t.cell(k, j + span - 1))
            cell.paragraphs[0].style = doc.styles[style]
            if text:
                cell.paragraphs[0].add_run(text)
            j += span
    for row in t.rows:
        for c in row.cells:
            c.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    return t


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    trpr.append(trpr.makeelement(qn("w:tblHeader"), {}))


def _appendix(p) -> None:
    """An unnumbered heading on a new page, centred."""
    p.paragraph_format.page_break_before = True
    p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.first_line_indent = Pt(0)
    _indent_chars(p._p, 0, BODY_PT)


def caption(doc, text: str, style: str = "表题"):
    """A table caption; the sentence introducing the table stays on its page."""
    before = doc.paragraphs[-1] if doc.paragraphs else None
    if before is not None and not before.text.startswith("{%"):
        before.paragraph_format.keep_with_next = True
    return doc.add_paragraph(text, style=style)


# ---------------------------------------------------------------- the unit's 自评报告

def unit_template(path: Path) -> None:
    d = new_document()
    d.core_properties.title = "项目支出绩效自评报告"
    para(d, "{{ project_short }}项目", "Title").paragraph_format.space_after = Pt(0)
    para(d, "{{ year }}年度绩效自评报告", "Title")
    para(d, "{{ unit }}", "Subtitle")
    para(d, "（初稿：由 xlperf 根据自评表《{{ source_name }}》自动生成。黄色底纹处请单位补充，文末“待核实事项”列出自评表中"
            "尚未解决的问题；核实、补充后请删除本说明。）", "草稿提示").runs[0].font.highlight_color = WD_COLOR_INDEX.YELLOW

    para(d, "一、绩效目标分解下达情况", "Heading 1")
    para(d, "（一）预算下达情况", "Heading 2")
    para(d, "{{ year }}年度，{{ project }}项目{% if initial_budget %}年初预算数{{ initial_budget }}万元，{% endif %}"
            "全年预算数{{ budget }}万元{% if sources %}（其中：{% for s in sources %}{{ s.label }}{{ s.budget }}万元"
            "{% if not loop.last %}，{% endif %}{% endfor %}）{% endif %}。"
            "【请补充：预算资金下达的文件文号、下达时间和金额】")
    para(d, "（二）资金安排情况", "Heading 2")
    para(d, "【请补充：资金的分配和安排使用情况，如资金用途、分配方式和拨付进度】")
    para(d, "（三）绩效目标", "Heading 2")
    para(d, "项目年度总体目标：")
    tag(d, "{%p for line in goal_planned %}")
    para(d, "{{ line }}")
    tag(d, "{%p endfor %}")
    para(d, "项目共设置三级绩效指标{{ n_indicators }}个，其中{% for g in level1 %}{{ g.name }}{{ g.count }}个"
            "（分值{{ g.weight }}分）{% if not loop.last %}，{% endif %}{% endfor %}；预算执行率分值{{ funds_weight }}分。"
            "各指标的年度指标值见表1。")

    para(d, "二、绩效情况分析", "Heading 1")
    para(d, "（一）资金投入情况", "Heading 2")
    para(d, "{{ year }}年度全年预算数{{ budget }}万元，全年执行数{{ spent }}万元，预算执行率{{ rate }}，"
            "预算执行率得分{{ funds_score }}分（分值{{ funds_weight }}分）。"
            "{% if rate_low %}预算执行率低于{{ low_rate }}，【请补充：资金未执行完毕的原因】{% endif %}")
    para(d, "（二）资金管理情况", "Heading 2")
    para(d, "【请补充：资金管理情况，如分配是否科学、下达是否及时、拨付是否合规、使用是否规范，财务管理制度执行情况】")
    para(d, "（三）总体绩效目标完成情况", "Heading 2")
    tag(d, "{%p for line in goal_actual %}")
    para(d, "{{ line }}")
    tag(d, "{%p endfor %}")
    para(d, "（四）各绩效指标完成情况", "Heading 2")
    para(d, "项目共设置三级指标{{ n_indicators }}个，其中完成{{ n_met }}个，部分完成{{ n_partly }}个，"
            "未完成{{ n_not_met }}个{% if n_unknown %}，未能判定{{ n_unknown }}个{% endif %}。"
            "各指标完成情况见表1。")
    caption(d, "表1  绩效指标完成情况")
    table(d, [("一级指标", "{{ i.level1 }}", 17, "c"), ("二级指标", "{{ i.level2 }}", 19, "c"),
              ("三级指标", "{{ i.name }}", 38, "l"), ("年度指标值", "{{ i.target }}", 21, "c"),
              ("全年实际值", "{{ i.actual }}", 21, "c"), ("分值", "{{ i.weight }}", 11, "c"),
              ("得分", "{{ i.score }}", 12, "c"), ("完成情况", "{{ i.status }}", 17, "c")],
          "i in indicators", keep=False,
          footers=[[("预算执行率", "表格文字", 3), ("100%", "表格文字", 1), ("{{ rate }}", "表格文字", 1),
                    ("{{ funds_weight }}", "表格文字", 1), ("{{ funds_score }}", "表格文字", 1),
                    ("{{ rate_status }}", "表格文字", 1)],
                   [("总分", "表头", 5), ("{{ total_weight }}", "表格文字", 1), ("{{ total_score }}", "表格文字", 1),
                    ("{{ grade }}", "表格文字", 1)]])
    para(d, "注：得分、总分和等级由 xlperf 按自评表中的数据和评分规则重新计算{% if printed_total %}；"
            "自评表中填写的总分为{{ printed_total }}分{% endif %}。完成情况按全年实际值对年度指标值的完成程度判定："
            "达到100%为完成，60%（含）至100%为部分完成，低于60%为未完成。", "表注")

    para(d, "三、偏离绩效目标的原因和下一步改进措施", "Heading 1")
    tag(d, "{%p if deviations %}")
    para(d, "未完全完成年度指标值的指标{{ deviations|length }}个，偏差原因及改进措施如下：")
    tag(d, "{%p for x in deviations %}")
    para(d, "{{ loop.index }}．{{ x.name }}。年度指标值{{ x.target }}，全年实际值{{ x.actual }}，"
            "得分{{ x.score }}分（分值{{ x.weight }}分），{{ x.status }}。偏差原因及改进措施：{{ x.reason }}")
    tag(d, "{%p endfor %}")
    tag(d, "{%p else %}")
    para(d, "各项三级指标均完成年度指标值，未发现偏离绩效目标的情况。")
    tag(d, "{%p endif %}")
    tag(d, "{%p if rate_low %}")
    para(d, "预算执行率{{ rate }}，低于{{ low_rate }}。【请补充：预算执行偏低的原因及改进措施】")
    tag(d, "{%p endif %}")
    para(d, "下一步改进措施：【请补充：针对上述问题拟采取的改进措施】")

    para(d, "四、绩效自评结果拟应用和公开情况", "Heading 1")
    para(d, "（一）自评得分与等级", "Heading 2")
    para(d, "经自评，本项目自评得分{{ total_score }}分，评价等级为“{{ grade }}”。其中预算执行率得分{{ funds_score }}分"
            "{% for g in level1 %}，{{ g.name }}得分{{ g.score }}分{% endfor %}。")
    para(d, "（二）结果运用", "Heading 2")
    para(d, "【请补充：自评结果在预算安排、政策调整和改进管理中的运用】")
    para(d, "（三）公开情况", "Heading 2")
    para(d, "【请补充：自评结果公开的时间、方式和范围】")

    para(d, "五、其他需要说明的问题", "Heading 1")
    para(d, "【请补充：其他需要说明的问题；没有可写“无”】")

    para(d, "{{ unit }}", "落款").paragraph_format.space_before = Pt(LINE_PT)
    para(d, "【请补充：成文日期】", "落款")

    _appendix(para(d, "待核实事项", "Heading 1"))
    tag(d, "{%p if findings %}")
    para(d, "系统校验自评表时发现以下{{ findings|length }}个问题尚未解决（错误{{ n_errors }}个，警告{{ n_warnings }}个，"
            "提示{{ n_infos }}个）。报告中的数字可能随更正而变化，请更正自评表后重新生成本报告。")
    table(d, [("序号", "{{ f.no }}", 10, "c"), ("严重程度", "{{ f.severity }}", 17, "c"),
              ("单元格", "{{ f.cell }}", 15, "c"), ("问题说明", "{{ f.message }}", 114, "l")], "f in findings",
          keep=False)
    tag(d, "{%p else %}")
    para(d, "系统校验自评表，未发现需要核实的问题。")
    tag(d, "{%p endif %}")
    d.save(path)


# ---------------------------------------------------------------- the province's 汇总分析报告

def province_template(path: Path) -> None:
    d = new_document()
    d.core_properties.title = "项目支出绩效自评汇总分析报告"
    para(d, "{{ place }}{{ year }}年度", "Title").paragraph_format.space_after = Pt(0)
    para(d, "项目支出绩效自评汇总分析报告", "Title")
    para(d, "（初稿：由 xlperf 根据全部回收的自评表自动生成，数字与《{{ workbook_name }}》一致；黄色底纹处请补充，"
            "核实后请删除本说明。）", "草稿提示").runs[0].font.highlight_color = WD_COLOR_INDEX.YELLOW

    para(d, "一、总体情况", "Heading 1")
    para(d, "{{ year }}年度应报自评单位{{ units_expected }}个、项目{{ projects_expected }}个；已报单位{{ units_returned }}个、"
            "项目{{ projects_returned }}个。其中合格（计入汇总）项目{{ projects_valid }}个，有错误或无法识别的项目"
            "{{ projects_with_errors }}个，未提交项目{{ projects_missing }}个；全部项目合格的单位{{ units_valid }}个。")
    para(d, "计入汇总的项目全年预算数合计{{ budget }}万元，全年执行数合计{{ spent }}万元，总体预算执行率{{ rate }}；"
            "执行率低于{{ low_rate }}的项目{{ low_rate_projects }}个。")
    para(d, "自评总分平均{{ mean_score }}分，中位数{{ median_score }}分，最低{{ min_score }}分，最高{{ max_score }}分。")

    para(d, "二、自评等级分布", "Heading 1")
    tag(d, "{%p for g in grades if g.projects %}")
    para(d, "评为“{{ g.grade }}”的项目{{ g.projects }}个，占项目总数的{{ g.share }}，涉及全年预算资金{{ g.budget }}万元，"
            "占资金总额的{{ g.budget_share }}。")
    tag(d, "{%p endfor %}")
    caption(d, "表1  自评等级分布")
    table(d, [("等级", "{{ g.grade }}", 22, "c"), ("项目数", "{{ g.projects }}", 20, "c"),
              ("项目数占比", "{{ g.share }}", 24, "c"), ("全年预算数（万元）", "{{ g.budget }}", 32, "c"),
              ("资金占比", "{{ g.budget_share }}", 22, "c"), ("全年执行数（万元）", "{{ g.spent }}", 32, "c")],
          "g in grades")
    para(d, "{{ chart_grades }}", "图")
    caption(d, "图1  自评等级分布（项目数）", "图题")
    para(d, "按总分分段：{% for b in buckets %}{{ b.bucket }}分{{ b.projects }}个{% if not loop.last %}，{% endif %}"
            "{% endfor %}（每段含下限、不含上限）。")

    para(d, "三、各市预算执行和自评得分", "Heading 1")
    tag(d, "{%p if best_city %}")
    para(d, "预算执行率最高的是{{ best_city.name }}（{{ best_city.rate }}），最低的是{{ worst_city.name }}"
            "（{{ worst_city.rate }}）{% if low_cities %}；低于{{ low_rate }}的有{{ low_cities }}{% endif %}。"
            "各市情况见表2、图2和图3。")
    caption(d, "表2  各市自评情况")
    table(d, [("市", "{{ c.name }}", 26, "l"), ("应报项目", "{{ c.expected }}", 14, "c"),
              ("已报项目", "{{ c.returned }}", 14, "c"), ("合格项目", "{{ c.valid }}", 14, "c"),
              ("全年预算数（万元）", "{{ c.budget }}", 24, "c"), ("全年执行数（万元）", "{{ c.spent }}", 24, "c"),
              ("执行率", "{{ c.rate }}", 18, "c"), ("平均总分", "{{ c.mean_score }}", 18, "c")], "c in cities",
          footers=[[("合计", "表头", 1), ("{{ projects_expected }}", "表格文字", 1), ("{{ projects_returned }}", "表格文字", 1),
                  ("{{ projects_valid }}", "表格文字", 1), ("{{ budget }}", "表格文字", 1), ("{{ spent }}", "表格文字", 1),
                  ("{{ rate }}", "表格文字", 1), ("{{ mean_score }}", "表格文字", 1)]])
    para(d, "注：执行率为Σ全年执行数÷Σ全年预算数，只统计计入汇总（合格、最新一份）的回传。", "表注")
    para(d, "{{ chart_city_rates }}", "图")
    caption(d, "图2  各市预算执行率", "图题")
    para(d, "{{ chart_city_scores }}", "图")
    caption(d, "图3  各市平均总分", "图题")
    tag(d, "{%p else %}")
    para(d, "没有计入汇总的回传，无法按市统计。")
    tag(d, "{%p endif %}")

    para(d, "四、绩效指标完成情况", "Heading 1")
    para(d, "计入汇总的项目共设置三级指标{{ indicators.count }}个，完成{{ indicators.met }}个（占{{ indicators.met_share }}），"
            "部分完成{{ indicators.partly }}个（占{{ indicators.partly_share }}），未完成{{ indicators.not_met }}个"
            "（占{{ indicators.not_met_share }}）。按一级指标见表3。")
    caption(d, "表3  按一级指标的完成情况")
    table(d, [("一级指标", "{{ a.level1 }}", 30, "l"), ("指标数", "{{ a.count }}", 18, "c"),
              ("完成", "{{ a.met }}", 16, "c"), ("部分完成", "{{ a.partly }}", 18, "c"), ("未完成", "{{ a.not_met }}", 16, "c"),
              ("完成占比", "{{ a.met_share }}", 20, "c"), ("未完成占比", "{{ a.not_met_share }}", 20, "c")],
          "a in analysis")
    tag(d, "{%p if top_not_met %}")
    para(d, "未完全完成次数最多的指标见表4。")
    caption(d, "表4  未完全完成次数最多的指标（前{{ top_not_met|length }}个）")
    table(d, [("序号", "{{ t.rank }}", 11, "c"), ("三级指标", "{{ t.name }}", 50, "l"), ("一级指标", "{{ t.level1 }}", 20, "c"),
              ("出现次数", "{{ t.count }}", 16, "c"), ("未完全完成", "{{ t.not_fully_met }}", 18, "c"),
              ("占比", "{{ t.share }}", 18, "c"), ("涉及单位", "{{ t.units }}", 16, "c")], "t in top_not_met")
    tag(d, "{%p endif %}")

    para(d, "五、自评表存在的主要问题", "Heading 1")
    tag(d, "{%p if problems %}")
    para(d, "校验发现错误{{ findings_error }}条、警告{{ findings_warning }}条、提示{{ findings_info }}条（只统计各项目最新一份回传）。"
            "出现最多的问题见表5。")
    caption(d, "表5  出现最多的问题")
    table(d, [("问题代码", "{{ p.code }}", 30, "l"), ("严重程度", "{{ p.severity }}", 15, "c"), ("次数", "{{ p.count }}", 12, "c"),
              ("涉及项目", "{{ p.projects }}", 14, "c"), ("示例", "{{ p.example }}", 85, "l")], "p in problems")
    tag(d, "{%p else %}")
    para(d, "校验未发现问题。")
    tag(d, "{%p endif %}")

    para(d, "六、未提交和有错误的单位", "Heading 1")
    tag(d, "{%p if missing %}")
    para(d, "名单中没有合格回传的项目{{ missing_total }}个，其中未提交{{ missing_none }}个，有错误{{ missing_errors }}个"
            "{% if missing_more %}；下表列出前{{ missing|length }}个，其余见汇总表“未提交”工作表{% endif %}。")
    caption(d, "表6  未提交和有错误的单位")
    table(d, [("市", "{{ m.city }}", 20, "c"), ("县（区）", "{{ m.county }}", 20, "c"), ("单位", "{{ m.unit }}", 36, "l"),
              ("项目", "{{ m.project }}", 40, "l"), ("情况", "{{ m.reason }}", 18, "c"), ("联系人", "{{ m.contact }}", 22, "l")],
          "m in missing", keep=False)
    tag(d, "{%p else %}")
    para(d, "名单中的项目均已提交合格的自评表。")
    tag(d, "{%p endif %}")

    para(d, "七、疑似雷同的说明", "Heading 1")
    tag(d, "{%p if copies %}")
    para(d, "以下偏差原因说明在不同单位的自评表中内容相同或高度相似，建议核实是否照抄照搬：")
    caption(d, "表7  疑似雷同的偏差原因说明")
    table(d, [("序号", "{{ x.no }}", 11, "c"), ("说明内容（示例）", "{{ x.text }}", 70, "l"), ("单位数", "{{ x.units }}", 14, "c"),
              ("次数", "{{ x.count }}", 12, "c"), ("涉及单位（示例）", "{{ x.examples }}", 49, "l")], "x in copies")
    tag(d, "{%p else %}")
    para(d, "未发现不同单位之间内容相同或高度相似的偏差原因说明。")
    tag(d, "{%p endif %}")

    para(d, "八、下一步工作建议", "Heading 1")
    para(d, "【请补充：针对上述问题的工作建议，如督促整改、加强培训、结果应用】")

    _appendix(para(d, "说明", "Heading 1"))
    para(d, "本报告的数字取自《{{ workbook_name }}》（{{ produced_from }}，生成于{{ produced_at }}），口径如下：", "说明文字")
    tag(d, "{%p for k, v in definitions %}")
    para(d, "{{ k }}：{{ v }}", "说明文字")
    tag(d, "{%p endfor %}")
    d.save(path)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    unit_template(OUT / "unit.docx")
    province_template(OUT / "province.docx")
    print(f"wrote {OUT / 'unit.docx'} and {OUT / 'province.docx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
