package quanze.lib.tasks_test

import rego.v1

import data.quanze.lib.tasks

# A17: an assignment names its task; blanks, a dash or a dot name nothing.
test_task_with_letters_is_named if {
	tasks.named("装订卷宗")
	tasks.named("bind the file")
	every blank in [" ", "　", "-", ".", "", "印"] {
		not tasks.named(blank)
	}
	not tasks.named(42)
}

# A17: an act id is read leniently — case, separators, full-width letters and invisible
# characters do not turn decision.prosecute into free text.
test_act_id_spelt_loosely_is_that_act if {
	every spelling in [
		"decision.prosecute", "Decision.Prosecute", "decision.prosecute.", "decision.prosecute。",
		"decision_prosecute", "decision .prosecute", "decision.prosecute (本案)",
		"ｄｅｃｉｓｉｏｎ．ｐｒｏｓｅｃｕｔｅ", "decision.\u200bprosecute",
	] {
		tasks.catalogued(spelling) == "decision.prosecute"
	}
	tasks.catalogued("decision.not_prosecute\u200b") == "decision.not_prosecute"
	not tasks.catalogued("task.assigned")
	not tasks.catalogued("装订卷宗")
}

# A17: free text that spells an act id among other words still names it.
test_act_id_inside_free_text_is_named if {
	"decision.prosecute" in tasks.names("please handle decision.prosecute for C-1")
	"record.take" in tasks.names("record take at the hearing of C-1")
}

# A17, 六, 十三, 十四: text naming a decision, court work, a hearing, a summons, a search or a
# death-penalty supervision names that act, in Chinese or English.
test_free_text_naming_reserved_powers if {
	cases := {
		"决定对张某不起诉": "decision.other_decisive",
		"决定是否起诉": "decision.other_decisive",
		"同意逮捕": "decision.other_decisive",
		"签署不起诉决定书": "decision.other_decisive",
		"approves the arrest": "decision.other_decisive",
		"prosecute the suspect": "decision.prosecute",
		"出席法庭支持公诉": "court.appear",
		"代替检察官出庭": "court.appear",
		"独立出庭": "court.appear",
		"在法庭上宣读起诉意见": "court.read_charging_document",
		"召开案件听证会": "hearing.preside",
		"组织听证": "hearing.preside",
		"赴刑场监督执行": "execution.supervise_death_penalty",
		"supervise the execution of the death sentence": "execution.supervise_death_penalty",
		"审讯犯罪嫌疑人": "case.interrogate_suspect",
		"提审犯罪嫌疑人": "case.interrogate_suspect",
		"拘传犯罪嫌疑人": "case.summon_suspect",
		"制作起诉书": "document.draft",
		"draft indictment": "document.draft",
		"write the indictment": "document.draft",
		"查阅法院卷宗": "court_file.access",
		"调阅人民法院案卷": "court_file.access",
		"庭上讯问被告人": "court.interrogate_defendant",
		"搜查犯罪嫌疑人住处": "measure.carry_out",
		"扣押涉案手机": "measure.carry_out",
		"冻结银行账户": "measure.carry_out",
		"search of the suspect's home": "measure.carry_out",
	}
	every text, act in cases {
		act in tasks.names(text)
	}
}

# 十九(2)–(4), 十八(5): clerical and technical work that mentions a document or an act is not
# that act — serving a summons is not summoning, printing a decision is not deciding.
test_clerical_spans_name_no_act if {
	every text in [
		"送达传唤证", "打印已作出的不起诉决定书", "讯问时担任记录", "询问证人时做笔录",
		"整理讯问录音录像", "装订审批表", "送达签发后的起诉书", "制作讯问同步录音录像",
		"装订卷宗", "serve the summons", "print the decision",
	] {
		tasks.names(text) == set()
	}
}

# A clerical span stops at a conjunction: what follows is read on its own.
test_clerical_span_does_not_hide_what_follows if {
	"decision.other_decisive" in tasks.names("送达起诉书并决定起诉")
	"decision.other_decisive" in tasks.names("打印起诉书签发起诉书")
	"case.interrogate_suspect" in tasks.names("讯问犯罪嫌疑人并于讯问时做笔录")
	"decision.prosecute" in tasks.names("serve the indictment and prosecute the suspect")
}
