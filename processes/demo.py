"""Demo cases (演示事项): about thirty stories that make a newcomer's first look a living system.

Each story is one case in one of the five task forces, told as the steps the demo users took —
问题收集, 转办, 签收, 处置, 协办, 延期, 退回, 反馈审核, 催办, 实地查办, 问效 — on working days counted back
from the current working day. The loader replays every story through the engine's use cases under
a frozen clock that it moves forward, firing due BPMN timers on the way exactly as the timer worker
would, so the escalation ladder really runs: the histories, warning lights, escalation levels and
notifications are the engine's own. The clock never passes the real now.
"""

from __future__ import annotations

import time as stopwatch
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import func, select

from engine.commands import cases, tasks
from engine.queries.cases import get_case
from engine.org.access import Actor
from engine.bootstrap import bootstrap
from engine.deployments import deploy
from engine.engine import Engine
from engine.calendar.clock import FrozenClock
from engine.storage.database import Database
from engine.storage.models import Case
from engine.org.accounts import actor_of, find_user
from engine.settings import Settings
from engine.commands.timers import fire_due_timers
from engine.queries.worklist import TaskQuery, list_tasks
from processes import ids
from processes.catalogue import MODES, build_catalogue

# The worker wakes up this long after a timer falls due.
WORKER_DELAY = timedelta(seconds=1)


@dataclass(frozen=True)
class Due:
    """A deadline at closing time of a working day counted from the current working day (0: today's
    or the next working day; negative: in the past)."""

    day: int


@dataclass(frozen=True)
class Step:
    """One thing a demo user did to a case, at a local time on a working day counted from now."""

    day: int
    at: str
    user: str
    action: str  # create | claim | assign | complete | urge | inspect
    task: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Story:
    """A demo case: what it is about and the steps of its history."""

    taskforce: str
    mode: str
    source: str
    title: str
    description: str
    stage: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class DemoCase:
    """A loaded demo case as the case list shows it."""

    number: str
    title: str
    taskforce: str
    mode: str
    stage: str
    status: str
    resolution: str | None
    warning_level: str
    escalation_level: int


@dataclass(frozen=True)
class DemoLoad:
    """What loading the demo cases did."""

    created: int
    seconds: float
    cases: tuple[DemoCase, ...] = ()

    @property
    def already_loaded(self) -> bool:
        """Whether cases were there already, so nothing was loaded."""
        return self.created == 0


# -- writing stories ---------------------------------------------------------------------------

def create(day: int, at: str, user: str, **fields: Any) -> Step:
    """Record the case as the user (问题收集); mode fields such as lead_department go in fields."""
    return Step(day, at, user, "create", data=fields)


def claim(day: int, at: str, user: str, task: str = ids.HANDLE_CASE) -> Step:
    """Sign for the case's open task of this name as the user (签收)."""
    return Step(day, at, user, "claim", task)


def assign(day: int, at: str, leader: str, to: str, task: str = ids.HANDLE_CASE) -> Step:
    """Give the task to a member of the department as its leader (指派)."""
    return Step(day, at, leader, "assign", task, {"username": to})


def complete(day: int, at: str, user: str, task: str, **data: Any) -> Step:
    """Complete the task (signing for it first if nobody has)."""
    return Step(day, at, user, "complete", task, data)


def refer(day: int, at: str, lead: str, due: Due, co: tuple[str, ...] = (), instructions: str | None = None,
          user: str = "dispatcher") -> Step:
    """Refer the case to a lead department and co-departments with a deadline (转办)."""
    return complete(day, at, user, ids.REFER_CASE, decision="refer", lead_department=lead,
                    co_departments=list(co), deadline_working_days=due, instructions=instructions)


def reject(day: int, at: str, reason: str, user: str = "dispatcher") -> Step:
    """Reject the case at triage (不予受理)."""
    return complete(day, at, user, ids.REFER_CASE, decision="reject", reason=reason)


def handled(day: int, at: str, user: str, result: str) -> Step:
    """Report the lead department's result (处置)."""
    return complete(day, at, user, ids.HANDLE_CASE, outcome="done", result=result)


def returned(day: int, at: str, user: str, reason: str) -> Step:
    """Send the case back as the lead department (退回)."""
    return complete(day, at, user, ids.HANDLE_CASE, outcome="return", reason=reason)


def ask_extension(day: int, at: str, user: str, until: Due, reason: str) -> Step:
    """Ask for more time, until a working day (延期申请)."""
    return complete(day, at, user, ids.HANDLE_CASE, outcome="extend", reason=reason, extension_working_days=until)


def assisted(day: int, at: str, user: str, result: str) -> Step:
    """Report a co-department's part (协办)."""
    return complete(day, at, user, ids.ASSIST_CASE, result=result)


def approve(day: int, at: str, user: str, comment: str) -> Step:
    """Approve the extension (延期审批)."""
    return complete(day, at, user, ids.APPROVE_EXTENSION, approved=True, comment=comment)


def review(day: int, at: str, user: str, accepted: bool, comment: str) -> Step:
    """Accept the feedback or send it back for rework (反馈审核)."""
    return complete(day, at, user, ids.REVIEW_FEEDBACK, accepted=accepted, comment=comment)


def report(day: int, at: str, user: str, progress: str, percent: int, difficulties: str | None = None) -> Step:
    """Report progress on an effectiveness case (报告进展)."""
    return complete(day, at, user, ids.REPORT_PROGRESS, progress=progress, percent_complete=percent,
                    difficulties=difficulties)


def evaluate(day: int, at: str, effective: bool, satisfaction: int, comment: str, user: str = "supervisor") -> Step:
    """Evaluate whether the fix worked (问效评估)."""
    return complete(day, at, user, ids.EVALUATE_EFFECT, effective=effective, satisfaction=satisfaction,
                    comment=comment)


def inspected(day: int, at: str, findings: str, rectify: str | None = None, due: Due | None = None,
              user: str = "supervisor") -> Step:
    """Record an inspection's findings (实地查办); naming a rectification department means problems were found."""
    data: dict[str, Any] = {"findings": findings, "problems_found": rectify is not None}
    if rectify is not None:
        data |= {"rectification_department": rectify, "deadline_working_days": due}
    return complete(day, at, user, ids.CONDUCT_INSPECTION, **data)


def reinspected(day: int, at: str, passed: bool, comment: str, user: str = "supervisor") -> Step:
    """Reinspect the rectification (复查)."""
    return complete(day, at, user, ids.REINSPECT, passed=passed, comment=comment)


def urge(day: int, at: str, user: str, message: str) -> Step:
    """Urge the lead department (催办)."""
    return Step(day, at, user, "urge", data={"message": message})


def request_inspection(day: int, at: str, note: str, user: str = "supervisor") -> Step:
    """Start an inspection beside a running case's work (实地查办)."""
    return Step(day, at, user, "inspect", data={"note": note})


# -- the stories -------------------------------------------------------------------------------

STORIES: tuple[Story, ...] = (
    # 光电子信息
    Story(
        "optoelectronics", "standard", "企业反映",
        "光电子企业扩产项目用地预审超期",
        "东湖高新区一家光通信器件企业扩产项目（新增光芯片封测产线）于两个月前提交用地预审申请，"
        "超过承诺时限仍未出具预审意见，企业担心影响年内开工和设备进场。",
        "已办结（含协办）",
        (
            create(-25, "09:40", "dispatcher"),
            refer(-25, "15:10", "natural_resources", Due(-15), co=("east_lake_hitech",),
                  instructions="请市自然资源规划局牵头，东湖高新区配合，10个工作日内完成用地预审并反馈。"),
            claim(-24, "09:20", "natural_resources"),
            assisted(-21, "16:00", "east_lake_hitech", "已完成项目红线核定和规划条件复核，相关材料已报市自然资源规划局。"),
            handled(-19, "11:30", "natural_resources", "已出具用地预审意见，并同步启动土地供应方案编制，企业已确认。"),
            review(-18, "10:00", "dispatcher", True, "预审意见已出具，企业确认满意，同意办结。"),
        ),
    ),
    Story(
        "optoelectronics", "standard", "专班调度会",
        "光谷重点企业人才公寓配套建设滞后",
        "专班调度会反映：光谷多家光电子重点企业新引进研发人员住房需求集中，"
        "规划的人才公寓项目配套道路和幼儿园建设滞后，交付时间一再推迟。",
        "牵头单位已申请延期，待审批",
        (
            create(-7, "10:00", "optoelectronics_leader"),
            refer(-7, "14:30", "east_lake_hitech", Due(3),
                  instructions="请东湖高新区梳理人才公寓配套建设进度，明确交付时间表。"),
            assign(-6, "09:10", "east_lake_hitech_leader", "east_lake_hitech"),
            ask_extension(-1, "16:20", "east_lake_hitech", Due(18),
                          "配套幼儿园需调整规划设计条件，须经规委会审议，申请延期15个工作日。"),
        ),
    ),
    Story(
        "optoelectronics", "standard", "专班调度会",
        "光电子重点项目电力接入滞后",
        "某光电子信息重点项目（化合物半导体产线）厂房已封顶，110千伏专线接入工程因线路路径未确定迟迟未开工，"
        "企业设备调试时间节点面临延误。",
        "超期，挂牌督办，已催办两次",
        (
            create(-18, "09:30", "dispatcher"),
            refer(-18, "11:00", "econ_it", Due(-11), co=("east_lake_hitech",),
                  instructions="请市经信局协调供电部门确定接入方案和路径，东湖高新区做好征迁配合。"),
            claim(-17, "10:15", "econ_it"),
            assisted(-15, "15:00", "east_lake_hitech", "已完成线路路径沿线地块权属摸排，提出两套路径比选方案。"),
            urge(-10, "09:00", "dispatcher", "已超期，请于本周内明确供电方案及接入时间节点。"),
            urge(-5, "10:00", "supervisor", "事项已挂牌督办，请市经信局会同供电部门倒排工期，每周报送进展。"),
            request_inspection(-3, "09:30", "赴项目现场核实专线接入工程推进情况。"),
        ),
    ),
    Story(
        "optoelectronics", "reminder", "企业反映",
        "光通信企业进口测试设备通关协调",
        "一家光通信企业进口的高端光谱测试设备滞留口岸，企业急需用于新产品验证，请求协调加快通关。",
        "已快办办结",
        (
            create(-9, "09:20", "dispatcher", lead_department="commerce"),
            claim(-9, "10:05", "commerce"),
            handled(-8, "11:00", "commerce", "已协调口岸部门开通绿色通道，设备已于当日通关交付企业。"),
        ),
    ),
    Story(
        "optoelectronics", "onsite", "实地督查",
        "光电子产业园重点项目建设进度实地查办",
        "按季度督查计划，对光电子产业园在建重点项目开展实地查办，核查施工进度、要素保障和承诺事项落实情况。",
        "发现问题，整改中",
        (
            create(-12, "09:00", "supervisor"),
            inspected(-10, "16:30", "现场核查发现两个项目施工许可办理滞后、园区污水管网未按期接通，影响企业投产。",
                      rectify="east_lake_hitech", due=Due(0)),
            claim(-9, "09:40", "east_lake_hitech_leader"),
        ),
    ),
    Story(
        "optoelectronics", "direct", "领导批示",
        "领导批示：加快光谷科创大走廊重点实验室建设",
        "专班组长批示：光电子领域重点实验室建设关系产业核心技术攻关，请市科技局牵头加快推进，"
        "尽快解决设备采购和人才引进中的堵点。",
        "直接专办，办理中",
        (
            create(-4, "10:30", "optoelectronics_leader", lead_department="science_tech", deadline_working_days=Due(6)),
            assign(-4, "15:00", "science_tech_leader", "science_tech"),
        ),
    ),
    # 大健康和生物技术
    Story(
        "health_biotech", "standard", "企业反映",
        "生物医药企业临床批件办理慢",
        "光谷生物城一家创新药企业反映，其一类新药临床试验相关备案和伦理审查衔接不畅，"
        "多家临床机构排队时间长，影响临床试验启动。",
        "牵头单位已办理，协办单位协办中",
        (
            create(-9, "09:50", "dispatcher"),
            refer(-9, "14:00", "market_regulation", Due(4), co=("health", "science_tech"),
                  instructions="请市市场监管局牵头，市卫健委、市科技局配合，打通临床试验备案和伦理审查衔接。"),
            claim(-8, "09:30", "market_regulation"),
            assisted(-6, "10:40", "science_tech", "已将该项目纳入生物医药重大专项支持，协调临床资源对接。"),
            handled(-2, "17:10", "market_regulation", "已建立临床试验备案绿色通道，指导企业补齐材料，备案已完成。"),
            claim(-1, "09:00", "health", ids.ASSIST_CASE),
        ),
    ),
    Story(
        "health_biotech", "standard", "企业反映",
        "本地创新药挂网采购和医保支付协调",
        "本地企业自主研发的创新药已获批上市，但在本市医疗机构挂网采购和医保支付衔接上进展缓慢，企业请求协调。",
        "已反馈，待审核",
        (
            create(-11, "10:20", "dispatcher"),
            refer(-11, "15:00", "medical_security", Due(2),
                  instructions="请市医保局研究提出挂网采购和医保支付衔接办法。"),
            claim(-10, "09:30", "medical_security"),
            handled(-1, "11:00", "medical_security", "已完成挂网，纳入本市医保支付范围，并推动三家三甲医院完成院内准入。"),
        ),
    ),
    Story(
        "health_biotech", "effectiveness", "专班调度会",
        "二类医疗器械注册审评时限压缩问效",
        "专班调度会要求对二类医疗器械注册审评时限压缩措施开展问效督办，跟踪企业实际办理时间是否缩短。",
        "已办理，待问效评估",
        (
            create(-26, "09:30", "dispatcher", followup_working_days=10),
            refer(-26, "14:00", "market_regulation", Due(-16),
                  instructions="请市市场监管局落实审评时限压缩措施，定期报告进展。"),
            claim(-25, "09:10", "market_regulation"),
            report(-20, "10:00", "market_regulation", "已上线审评进度查询，平均审评时限由60个工作日压缩至40个工作日。", 60),
            handled(-17, "16:00", "market_regulation", "审评流程再造完成，实行容缺受理和并联审评，企业平均办理时间缩短三分之一。"),
            review(-16, "10:30", "dispatcher", True, "措施已落实，转入跟踪问效。"),
        ),
    ),
    Story(
        "health_biotech", "reminder", "企业反映",
        "医养结合机构设立审批协调",
        "一家医养结合机构反映养老机构备案与医疗机构执业登记衔接不顺，开业时间一再推迟。",
        "提醒快办超期，已升级为直接专办",
        (
            create(-8, "09:30", "dispatcher", lead_department="civil_affairs"),
            claim(-6, "10:00", "civil_affairs"),
            claim(-4, "09:00", "civil_affairs"),
        ),
    ),
    Story(
        "health_biotech", "direct", "领导批示",
        "领导批示：支持疫苗企业产能扩建项目手续并联办理",
        "专班组长批示：疫苗企业产能扩建项目事关公共卫生保障，请市发改委牵头对立项、规划、环评等手续实行并联办理。",
        "已办结",
        (
            create(-20, "09:00", "health_biotech_leader", lead_department="development_reform",
                   deadline_working_days=Due(-12)),
            claim(-20, "14:00", "development_reform"),
            handled(-14, "17:00", "development_reform", "已召开并联审批协调会，立项、规划和环评批复均已办结。"),
            review(-13, "10:00", "supervisor", True, "手续已全部办结，同意办结。"),
        ),
    ),
    Story(
        "health_biotech", "standard", "12345热线",
        "市民反映某民营医院医保定点资格申请",
        "市民通过12345热线反映，其所在社区一家民营医院申请医保定点资格进展不明。",
        "不予受理",
        (
            create(-6, "11:20", "dispatcher"),
            reject(-5, "09:40", "不属于重点产业专班督办范围，已转12345热线按常规渠道由市医保局答复。"),
        ),
    ),
    # 绿色低碳
    Story(
        "green_low_carbon", "standard", "企业反映",
        "分布式光伏项目并网备案办理慢",
        "多家工业企业屋顶分布式光伏项目建成后，备案和并网验收环节办理时间长，企业反映已影响发电收益。",
        "已转办，待签收",
        (
            create(-4, "09:10", "dispatcher"),
            refer(-3, "10:30", "development_reform", Due(7),
                  instructions="请市发改委梳理分布式光伏备案并网流程，明确办理时限并向企业公开。"),
        ),
    ),
    Story(
        "green_low_carbon", "standard", "专班调度会",
        "氢能产业园项目环评批复滞后",
        "武汉经开区氢能产业园燃料电池电堆项目环评报告已多次修改，批复时间仍不确定，项目开工时间无法确定。",
        "超期，已列为督办",
        (
            create(-13, "09:00", "dispatcher"),
            refer(-13, "11:30", "ecology_environment", Due(-4), co=("wuhan_etdz",),
                  instructions="请市生态环境局加快技术评估，武汉经开区督促企业补充材料。"),
            assign(-12, "09:30", "ecology_environment_leader", "ecology_environment"),
            assisted(-8, "15:00", "wuhan_etdz", "已督促企业完成环评报告补充修改，并组织专家现场踏勘。"),
            urge(-3, "09:30", "dispatcher", "事项已超期，请说明环评技术评估进展并明确批复时间。"),
        ),
    ),
    Story(
        "green_low_carbon", "standard", "专班调度会",
        "绿色低碳企业碳减排贷款贴息兑现慢",
        "专班调度会反映：部分绿色低碳企业申请碳减排支持工具贷款后，地方贴息资金兑现周期长，企业融资成本压力大。",
        "退回后重新转办，办理中",
        (
            create(-10, "10:00", "green_low_carbon_leader"),
            refer(-10, "15:00", "pboc_wuhan", Due(0), instructions="请人行武汉分行营管部核实贴息兑现情况。"),
            claim(-9, "09:00", "pboc_wuhan"),
            returned(-8, "16:00", "pboc_wuhan", "地方贴息资金的审核和拨付由市地方金融局负责，建议改由市地方金融局牵头，我行配合提供贷款数据。"),
            refer(-7, "10:00", "local_finance", Due(5), co=("pboc_wuhan",),
                  instructions="请市地方金融局牵头，人行武汉分行营管部配合，加快贴息资金审核拨付。"),
            claim(-7, "15:00", "local_finance"),
            assisted(-3, "11:00", "pboc_wuhan", "已提供符合条件的碳减排贷款明细共37笔。"),
        ),
    ),
    Story(
        "green_low_carbon", "effectiveness", "领导批示",
        "青山区储能电站项目规划许可办理问效",
        "对青山区新型储能电站项目规划许可办理开展问效督办，跟踪项目审批提速措施的落实成效。",
        "问效督办办理中，定期报告进展",
        (
            create(-13, "09:30", "supervisor"),
            refer(-12, "10:00", "natural_resources", Due(4), co=("qingshan",),
                  instructions="请市自然资源规划局牵头办理，每5个工作日报告一次进展。"),
            claim(-12, "15:30", "natural_resources"),
            assisted(-9, "10:00", "qingshan", "已完成项目选址周边征询和用地条件确认。"),
            report(-6, "09:45", "natural_resources", "规划条件已核发，建设工程规划许可正在审查。", 40,
                   "项目消防设计审查尚未完成，需同步推进。"),
        ),
    ),
    Story(
        "green_low_carbon", "onsite", "实地督查",
        "长江新区零碳示范园区建设实地查办",
        "对长江新区零碳示范园区建设开展实地查办，核查光储充一体化设施建设和园区能耗监测平台运行情况。",
        "整改完毕，待复查",
        (
            create(-15, "09:00", "supervisor"),
            inspected(-13, "17:00", "园区能耗监测平台数据未接入市级平台，部分光储充设施未按计划建成。",
                      rectify="yangtze_new_area", due=Due(-5)),
            claim(-12, "09:30", "yangtze_new_area"),
            handled(-6, "16:00", "yangtze_new_area", "能耗监测平台已完成与市级平台对接，剩余光储充设施已建成投运。"),
        ),
    ),
    Story(
        "green_low_carbon", "standard", "企业反映",
        "生物质发电项目秸秆收储点建设协调",
        "新洲区生物质发电企业反映秸秆收储点建设用地和运输补贴落实不到位，冬季燃料保障存在缺口。",
        "反馈未通过，返工重办中",
        (
            create(-12, "09:20", "dispatcher"),
            refer(-12, "15:00", "xinzhou", Due(0), co=("agriculture",),
                  instructions="请新洲区牵头，市农业农村局配合，落实收储点建设和补贴政策。"),
            claim(-11, "10:00", "xinzhou"),
            assisted(-10, "14:00", "agriculture", "已明确秸秆收储运输补贴标准，并下达年度补贴资金计划。"),
            handled(-9, "16:30", "xinzhou", "已协调确定三处收储点，企业燃料保障基本落实。"),
            review(-8, "10:00", "dispatcher", False, "反馈未附收储点选址和用地手续情况，请补充后重新反馈。"),
            claim(-8, "14:00", "xinzhou"),
        ),
    ),
    # 汽车
    Story(
        "automotive", "standard", "企业反映",
        "新能源汽车充电桩建设审批流程不明确",
        "充电运营企业反映，公共充电桩建设涉及用地、规划、占道等多个审批环节，流程不明确，接电难。",
        "已办结（含协办）",
        (
            create(-24, "09:00", "dispatcher"),
            refer(-24, "14:00", "development_reform", Due(-14), co=("urban_management", "natural_resources"),
                  instructions="请市发改委牵头制定公共充电桩建设审批指引，市城管执法委、市自然资源规划局配合。"),
            claim(-23, "09:00", "development_reform"),
            assisted(-20, "10:00", "urban_management", "已明确占道设置充电设施的审批条件和办理时限。"),
            assisted(-19, "15:00", "natural_resources", "已明确利用存量用地建设充电设施的规划办理路径。"),
            handled(-17, "17:30", "development_reform", "已印发公共充电桩建设审批指引，实行一窗受理，办理时限压缩至10个工作日。"),
            review(-16, "09:30", "dispatcher", True, "指引已印发并向企业公开，同意办结。"),
        ),
    ),
    Story(
        "automotive", "reminder", "专班调度会",
        "汽车零部件企业技能工人招聘对接",
        "武汉经开区多家汽车零部件配套企业新增产能，技能工人缺口较大，请求协助对接职业院校和招聘渠道。",
        "提醒快办，待签收",
        (
            create(-1, "10:00", "dispatcher", lead_department="wuhan_etdz"),
        ),
    ),
    Story(
        "automotive", "direct", "领导批示",
        "领导批示：扩大智能网联汽车测试道路开放",
        "专班组长批示：智能网联汽车企业测试里程需求快速增长，请市公安交管局牵头扩大测试道路开放范围。",
        "直接专办超期，挂牌督办，已催办",
        (
            create(-11, "09:30", "supervisor", lead_department="traffic_police", deadline_working_days=Due(-6)),
            claim(-10, "10:00", "traffic_police"),
            urge(-4, "09:00", "supervisor", "领导批示事项已超期，请市公安交管局于3个工作日内报送开放路段方案。"),
        ),
    ),
    Story(
        "automotive", "standard", "专班调度会",
        "整车物流车辆通行证办理难",
        "整车企业反映，商品车运输车辆进城通行证办理周期长、时段限制多，影响整车发运。",
        "超期，已催办",
        (
            create(-8, "16:00", "automotive_leader"),
            refer(-7, "09:30", "traffic_police", Due(-2), instructions="请市公安交管局优化整车物流车辆通行证办理。"),
            claim(-5, "10:00", "traffic_police_leader"),
            urge(-1, "10:00", "dispatcher", "事项已超期，请尽快反馈办理结果。"),
        ),
    ),
    Story(
        "automotive", "standard", "企业反映",
        "新能源整车项目配套道路建设滞后",
        "武汉经开区新能源整车项目即将投产，厂区周边配套道路和公交线路建设滞后，员工通勤和物流受影响。",
        "办理中，督查人员实地查办并责成整改",
        (
            create(-10, "09:00", "dispatcher"),
            refer(-10, "14:00", "wuhan_etdz", Due(6), co=("transport",),
                  instructions="请武汉经开区牵头加快配套道路建设，市交通运输局配合优化公交线路。"),
            claim(-9, "09:30", "wuhan_etdz"),
            assisted(-6, "11:00", "transport", "已新开通勤公交线路一条，高峰时段加密班次。"),
            request_inspection(-5, "10:00", "赴现场核查配套道路施工和公交线路开通情况。"),
            inspected(-3, "16:00", "配套道路施工进度滞后约一个月，公交站点未设置候车设施。",
                      rectify="transport", due=Due(2)),
            claim(-2, "09:00", "transport"),
        ),
    ),
    Story(
        "automotive", "effectiveness", "企业反映",
        "汽车以旧换新补贴兑付慢问效",
        "消费者和经销商反映汽车以旧换新补贴兑付周期长，对补贴兑付提速措施开展问效督办。",
        "问效见效，已办结",
        (
            create(-30, "09:00", "dispatcher", followup_working_days=5),
            refer(-30, "11:00", "commerce", Due(-22), instructions="请市商务局加快补贴审核兑付，定期报告进展。"),
            claim(-29, "09:30", "commerce"),
            report(-24, "10:00", "commerce", "已增加审核人员，积压申请清理过半。", 70),
            handled(-23, "15:00", "commerce", "积压申请已全部审核，补贴兑付周期由30天缩短至10天以内。"),
            review(-22, "10:00", "dispatcher", True, "同意，转入跟踪问效。"),
            evaluate(-15, "10:00", True, 5, "回访经销商和消费者，补贴均在10天内到账，整改见效。"),
        ),
    ),
    # 数字经济
    Story(
        "digital_economy", "standard", "企业反映",
        "临空港大数据中心项目能耗指标未落实",
        "临空港开发区大数据中心项目一期机房已建成，能耗指标尚未落实，无法投运上架。",
        "延期获批，临期",
        (
            create(-13, "09:00", "dispatcher"),
            refer(-13, "15:00", "econ_it", Due(-6), co=("airport_zone",),
                  instructions="请市经信局牵头协调数据中心能耗指标，临空港开发区配合。"),
            claim(-12, "09:00", "econ_it"),
            assisted(-10, "10:00", "airport_zone", "已核实项目能效水平，PUE设计值1.25，符合新建数据中心要求。"),
            ask_extension(-8, "17:00", "econ_it", Due(0), "能耗指标需待省级年度统筹调剂，申请延期6个工作日。"),
            approve(-7, "10:00", "dispatcher", "同意延期，请同步做好项目分期投运准备。"),
            claim(-7, "14:00", "econ_it"),
        ),
    ),
    Story(
        "digital_economy", "standard", "12345热线",
        "5G基站进小区、进楼宇协调难",
        "通信运营企业通过12345热线反映，部分新建小区和商务楼宇5G基站选址进场难，影响网络覆盖。",
        "已收集，待转办",
        (
            create(-1, "16:00", "dispatcher"),
        ),
    ),
    Story(
        "digital_economy", "standard", "企业反映",
        "数字创意企业办公用房租金补贴申报渠道不畅",
        "洪山区数字创意企业反映办公用房租金补贴申报入口和材料要求不清楚，多次咨询无果。",
        "区级报送，待转办",
        (
            create(-1, "10:30", "hongshan"),
        ),
    ),
    Story(
        "digital_economy", "standard", "专班调度会",
        "人工智能计算中心算力券兑现慢",
        "专班调度会反映：人工智能企业使用算力中心资源后申领算力券，兑现周期长，企业资金压力大。",
        "被退回，待重新转办",
        (
            create(-6, "09:30", "dispatcher"),
            refer(-6, "14:00", "east_lake_hitech", Due(4), instructions="请东湖高新区核实算力券兑现情况。"),
            claim(-5, "09:00", "east_lake_hitech"),
            returned(-3, "15:00", "east_lake_hitech", "算力券政策由市经信局制定并统一兑付，我区仅负责初审，建议改由市经信局牵头。"),
        ),
    ),
    Story(
        "digital_economy", "effectiveness", "领导批示",
        "“上云用数赋智”补贴申报系统卡顿问效",
        "企业反映数字化转型补贴申报系统在申报高峰期频繁卡顿，对系统扩容整改开展问效督办。",
        "问效未见效，重新办理，超期督办",
        (
            create(-23, "09:00", "supervisor", followup_working_days=5),
            refer(-23, "10:30", "econ_it", Due(-17), instructions="请市经信局完成系统扩容，确保申报高峰期稳定运行。"),
            claim(-23, "15:00", "econ_it"),
            handled(-19, "16:00", "econ_it", "已完成服务器扩容和数据库优化。"),
            review(-18, "10:00", "dispatcher", True, "同意，转入跟踪问效。"),
            evaluate(-11, "10:00", False, 2, "回访企业，申报截止前系统仍多次卡顿，整改未见效，请重新办理。"),
            claim(-10, "09:30", "econ_it"),
            report(-5, "11:00", "econ_it", "已委托第三方开展压力测试，正在迁移至政务云。", 50, "政务云资源申请尚需审批。"),
            urge(-1, "15:00", "supervisor", "问效未见效后重新办理仍超期，请加快政务云迁移。"),
        ),
    ),
    Story(
        "digital_economy", "direct", "领导批示",
        "领导批示：加快临空港数字经济产业园招商项目落地",
        "专班组长批示：临空港数字经济产业园已签约项目落地慢，请临空港开发区逐一梳理并推动开工。",
        "返工后办结",
        (
            create(-22, "09:00", "digital_economy_leader", lead_department="airport_zone",
                   deadline_working_days=Due(-12)),
            claim(-22, "14:00", "airport_zone"),
            handled(-16, "17:00", "airport_zone", "已梳理签约项目12个，其中8个已开工。"),
            review(-15, "10:00", "supervisor", False, "请补充未开工项目的问题清单和开工时间表。"),
            claim(-15, "14:00", "airport_zone"),
            handled(-13, "16:00", "airport_zone", "已补充4个未开工项目问题清单，逐一明确开工时间和责任人。"),
            review(-12, "09:30", "supervisor", True, "材料完整，同意办结。"),
        ),
    ),
    Story(
        "digital_economy", "onsite", "实地督查",
        "数字经济重点项目“双千兆”网络覆盖实地查办",
        "对数字经济重点园区“双千兆”网络覆盖情况开展实地查办，核查千兆光网和5G网络建设承诺落实情况。",
        "查办未发现问题，已办结",
        (
            create(-14, "09:00", "supervisor"),
            inspected(-12, "17:00", "抽查园区6个楼宇，千兆光网和5G信号覆盖均达标，未发现问题。"),
        ),
    ),
)


# -- loading -----------------------------------------------------------------------------------

def load_demo_cases(settings: Settings, now: datetime | None = None, db: Database | None = None) -> DemoLoad:
    """Load the demo cases, their histories ending by now (default: the real now); nothing if any case exists."""
    started = stopwatch.monotonic()
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    clock = FrozenClock(now)
    engine = bootstrap(settings, build_catalogue(), clock, db=db)
    try:
        if _case_count(engine):
            return DemoLoad(0, stopwatch.monotonic() - started)
        deploy(engine, deployed_by="duban seed-demo")
        numbers = _Replay(engine, clock, now).run(STORIES)
        loaded = _summaries(engine, numbers)
    finally:
        if db is None:
            engine.db.dispose()
    return DemoLoad(len(loaded), stopwatch.monotonic() - started, loaded)


def _case_count(engine: Engine) -> int:
    with engine.db.unit_of_work(write=False) as uow:
        return uow.scalar(select(func.count()).select_from(Case)) or 0


class _Replay:
    """Plays the stories in one timeline, as the demo users and the timer worker would have."""

    def __init__(self, engine: Engine, clock: FrozenClock, now: datetime) -> None:
        self.engine, self.clock, self.now = engine, clock, now
        calendar = engine.calendar
        today = calendar.local_date(now)
        # The current working day: the first whose closing time is still ahead. Every step happens on
        # an earlier working day, so it is in the past whatever the time of day now.
        current = today if calendar.is_working_day(today) else calendar.add_working_days(today, 1)
        if calendar.closing(current) <= now:
            current = calendar.add_working_days(current, 1)
        self.current = current
        self.actors: dict[str, Actor] = {}
        self.case_ids: dict[int, int] = {}

    def run(self, stories: tuple[Story, ...]) -> dict[int, str]:
        """Replay every step in time order, fire what falls due up to now; return the stories' case numbers."""
        timeline = []
        for index, story in enumerate(stories):
            if not story.steps or story.steps[0].action != "create":
                raise ValueError(f"演示事项《{story.title}》须以问题收集开始")
            previous: datetime | None = None
            for order, step in enumerate(story.steps):
                moment = self._moment(step)
                if moment >= self.now or (previous is not None and moment < previous):
                    raise ValueError(f"演示事项《{story.title}》第{order + 1}步的时间不对：{moment.isoformat()}")
                previous = moment
                timeline.append((moment, index, order, step))
        timeline.sort(key=lambda item: item[:3])
        numbers: dict[int, str] = {}
        for moment, index, _, step in timeline:
            self._fire_until(moment)
            self.clock.set(moment)
            number = self._apply(stories[index], index, step)
            if number:
                numbers[index] = number
        self._fire_until(self.now)
        self.clock.set(self.now)
        fire_due_timers(self.engine)
        return numbers

    def day(self, offset: int) -> date:
        """Return the working day offset working days from the current one."""
        calendar = self.engine.calendar
        if offset >= 0:
            return calendar.add_working_days(self.current, offset)
        return calendar.subtract_working_days(self.current, -offset)

    def _moment(self, step: Step) -> datetime:
        if step.day >= 0:
            raise ValueError("演示步骤只能发生在此前的工作日")
        hour, minute = (int(part) for part in step.at.split(":"))
        local = datetime.combine(self.day(step.day), time(hour, minute), tzinfo=self.engine.calendar.zone)
        return local.astimezone(timezone.utc)

    def _fire_until(self, moment: datetime) -> None:
        """Fire each timer that falls due before moment, a second after it does, in order."""
        while True:
            with self.engine.db.unit_of_work(write=False) as uow:
                wake = uow.scalar(select(func.min(Case.next_wakeup_at)).where(Case.status == "open"))
            if wake is None or wake >= moment:
                return
            self.clock.set(min(wake + WORKER_DELAY, moment))
            if not fire_due_timers(self.engine):
                raise RuntimeError(f"到期定时任务未能触发：{wake.isoformat()}")

    def _actor(self, username: str) -> Actor:
        if username not in self.actors:
            user = find_user(self.engine, username)
            if user is None:
                raise LookupError(f"演示用户不存在：{username}（请先运行 duban seed-demo）")
            self.actors[username] = actor_of(user)
        return self.actors[username]

    def _apply(self, story: Story, index: int, step: Step) -> str | None:
        """Carry out one step; return the case number when the step created the case."""
        actor = self._actor(step.user)
        if step.action == "create":
            view = cases.create_case(self.engine, actor, self._draft(story, step))
            self.case_ids[index] = view.case.id
            return view.case.number
        case_id = self.case_ids[index]
        if step.action == "urge":
            cases.act_on_case(self.engine, actor, case_id, "urge", step.data.get("message"))
        elif step.action == "inspect":
            cases.act_on_case(self.engine, actor, case_id, "inspect", step.data.get("note"))
        elif step.action in ("claim", "assign", "complete"):
            self._work(actor, case_id, step)
        else:
            raise ValueError(f"未知的演示步骤：{step.action}")
        return None

    def _draft(self, story: Story, step: Step) -> cases.CaseDraft:
        fields = dict(step.data)
        options = {name: fields.pop(name) for name in ("report_every_working_days", "followup_working_days")
                   if name in fields}
        if isinstance(fields.get("deadline_working_days"), Due):
            fields["deadline_working_days"] = self._working_days_to(self.clock.now(), fields["deadline_working_days"])
        return cases.CaseDraft(title=story.title, description=story.description, taskforce=story.taskforce,
                               mode=story.mode, source=story.source, options=options, **fields)

    def _work(self, actor: Actor, case_id: int, step: Step) -> None:
        assert step.task is not None
        rows = list_tasks(self.engine, actor, TaskQuery(scope="department", case_id=case_id, name=step.task)).items
        if len(rows) != 1:
            raise LookupError(f"{actor.username} 在事项 {case_id} 中找到 {len(rows)} 个待办“{step.task}”")
        task = rows[0]
        if step.action == "assign":
            tasks.assign_task(self.engine, actor, task.id, step.data["username"])
            return
        if task.state == "ready":
            tasks.claim_task(self.engine, actor, task.id)
        if step.action == "complete":
            tasks.complete_task(self.engine, actor, task.id, self._form(case_id, step))

    def _form(self, case_id: int, step: Step) -> dict[str, Any]:
        """Return the step's form data with its deadlines (Due) in working days."""
        data = {k: v for k, v in step.data.items() if v is not None}
        if isinstance(data.get("deadline_working_days"), Due):
            data["deadline_working_days"] = self._working_days_to(self.clock.now(), data["deadline_working_days"])
        if isinstance(data.get("extension_working_days"), Due):
            due = get_case(self.engine, self._actor("supervisor"), case_id).case.due_at
            assert due is not None
            data["extension_working_days"] = self._working_days_to(due, data["extension_working_days"])
        return data

    def _working_days_to(self, start: datetime, due: Due) -> int:
        calendar = self.engine.calendar
        days = calendar.working_days_between(calendar.local_date(start), self.day(due.day))
        if days < 1:
            raise ValueError(f"演示期限必须晚于起算日：{start.isoformat()} → 第{due.day}个工作日")
        return days


def _summaries(engine: Engine, numbers: dict[int, str]) -> tuple[DemoCase, ...]:
    with engine.db.unit_of_work(write=False) as uow:
        rows = {c.number: c for c in uow.execute(select(*Case.__table__.c).where(Case.number.in_(numbers.values())))}
    loaded = []
    for index, number in sorted(numbers.items()):
        case, story = rows[number], STORIES[index]
        loaded.append(DemoCase(number, case.title, case.taskforce, case.mode, story.stage, case.status,
                               case.resolution, case.warning_level, case.escalation_level))
    return tuple(loaded)


WARNING_LABELS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
LEVEL_LABELS = {1: "超期催办", 2: "督办", 3: "挂牌督办"}


def describe_load(load: DemoLoad) -> list[str]:
    """Say in Chinese what was loaded: each case's mode, stage and light, then the totals."""
    lines = []
    for case in load.cases:
        light = "已关闭" if case.status != "open" else WARNING_LABELS.get(case.warning_level, case.warning_level)
        if case.status == "open" and case.escalation_level:
            light += f"（{case.escalation_level}级 {LEVEL_LABELS.get(case.escalation_level, '')}）"
        mode = MODES[case.mode].label if case.mode in MODES else case.mode
        lines.append(f"{case.number}  {mode}  {case.stage}  {light}  {case.title}")
    open_count = sum(1 for c in load.cases if c.status == "open")
    lines.append(f"共 {len(load.cases)} 个演示事项（办理中 {open_count} 个，已关闭 {len(load.cases) - open_count} 个），"
                 f"用时 {load.seconds:.1f} 秒")
    return lines
