package policy

import (
	"encoding/base64"
	"testing"
)

func TestPlpgsqlKeepsColumns(t *testing.T) {
	keys := []string{"user_id"}
	cases := []struct {
		src  string
		keep bool
	}{
		{"BEGIN NEW.updated_at := now(); RETURN NEW; END", true},
		{"\nBEGIN\n  NEW.created = now();\n  IF NEW.note IS NULL THEN NEW.note := 'x'; END IF;\n  RETURN (NEW);\nEND;\n", true},
		{"BEGIN SELECT now() INTO NEW.created_at; RETURN NEW; END", true},
		{"BEGIN NEW.user_id := 99; RETURN NEW; END", false},
		{`BEGIN NEW."USER_ID" := 99; RETURN NEW; END`, false},
		{"BEGIN -- user_id stays\n RETURN NEW; END", false},
		{"BEGIN NEW := jsonb_populate_record(NEW, '{}'); RETURN NEW; END", false},
		{"BEGIN new = OLD; RETURN new; END", false},
		{"BEGIN SELECT * INTO NEW FROM orders LIMIT 1; RETURN NEW; END", false},
		{"BEGIN EXECUTE 'SELECT $1' INTO STRICT new USING NEW; RETURN NEW; END", false},
		{"DECLARE r orders; BEGIN r := NEW; RETURN r; END", false},
		{"BEGIN RETURN NULL; END", false},
		{"BEGIN IF NEW.v > 0 THEN RETURN NEW; END IF; RETURN OLD; END", false},
		{"BEGIN END", false},
		{"DECLARE x ALIAS FOR NEW; BEGIN x := ROW(1, 2); RETURN NEW; END", false},
		{"DECLARE new orders; BEGIN RETURN NEW; END", false},
		{`DECLARE "new" orders; BEGIN RETURN NEW; END`, false},
		{"BEGIN CALL fix(NEW); RETURN NEW; END", false},
		{"BEGIN FOR new IN SELECT * FROM orders LOOP END LOOP; RETURN NEW; END", false},
		{`BEGIN NEW.U&"\0075ser_id" := 9; RETURN NEW; END`, false},
		{"<<fn>> BEGIN fn.new := NULL; RETURN NEW; END", false},
	}
	for _, c := range cases {
		if got := plpgsqlKeepsColumns(c.src, keys, "new"); got != c.keep {
			t.Errorf("%q: %v, want %v", c.src, got, c.keep)
		}
	}
	if plpgsqlKeepsColumns("BEGIN RETURN NEW; END", []string{"user id"}, "new") {
		t.Error("a key column whose name is not one word must count as changed")
	}
}

func TestInsertTriggersMayChange(t *testing.T) {
	safe := triggerFunc{insert: true, lang: "plpgsql", src: "BEGIN NEW.at := now(); RETURN NEW; END"}
	cases := []struct {
		table Table
		want  bool
	}{
		{Table{}, false},
		{Table{BeforeInsertTrigger: true}, true},
		{Table{BeforeInsertTrigger: true, triggers: []triggerFunc{safe}}, false},
		{Table{BeforeInsertTrigger: true, triggers: []triggerFunc{safe, {insert: true, lang: "plpython3u", src: "return 'OK'"}}}, true},
		{Table{BeforeInsertTrigger: true, triggers: []triggerFunc{safe, {update: true, lang: "plpython3u"}}}, false},
		{Table{BeforeInsertTrigger: true, triggers: parseTriggerFuncs("i\x1fplpgsql\x1fnot base64!")}, true},
		{Table{BeforeInsertTrigger: true, triggers: parseTriggerFuncs("i\x1fplpgsql\x1f" + base64.StdEncoding.EncodeToString([]byte(safe.src)))}, false},
	}
	for i, c := range cases {
		if got := c.table.insertTriggersMayChange([]string{"user_id"}); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func TestUpdateTriggersMayChange(t *testing.T) {
	fn := func(src string) Table {
		return Table{BeforeUpdateTrigger: true, triggers: []triggerFunc{{update: true, lang: "plpgsql", src: src}}}
	}
	cases := []struct {
		table Table
		want  bool
	}{
		{fn("BEGIN NEW.at := now(); RETURN NEW; END"), false},
		{fn("BEGIN IF NEW.v < 0 THEN RETURN NULL; END IF; IF NEW.v = 0 THEN RETURN OLD; END IF; RETURN NEW; END"), false},
		{fn("BEGIN NEW.user_id := OLD.user_id + 1; RETURN NEW; END"), true},
		{Table{BeforeUpdateTrigger: true, triggers: []triggerFunc{{insert: true, lang: "plpgsql", src: "BEGIN RETURN NEW; END"}}}, true},
	}
	for i, c := range cases {
		if got := c.table.updateTriggersMayChange([]string{"user_id"}); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

func TestUpdateTriggersMayOverride(t *testing.T) {
	cases := []struct {
		src             string
		assigns, unsure bool
	}{
		{"BEGIN NEW.at := now(); RETURN NEW; END", false, false},
		{"BEGIN NEW.at := now(); RETURN NEW; END", true, false},
		{"BEGIN IF NEW.v < 0 THEN RETURN NULL; END IF; RETURN NEW; END", false, false},
		{"BEGIN IF NEW.v < 0 THEN RETURN NULL; END IF; RETURN NEW; END", true, true},
		{"BEGIN RETURN OLD; END", true, true},
		{"BEGIN NEW.user_id := 1; RETURN NEW; END", false, true},
	}
	for i, c := range cases {
		table := Table{BeforeUpdateTrigger: true, triggers: []triggerFunc{{update: true, lang: "plpgsql", src: c.src}}}
		if got := table.updateTriggersMayOverride([]string{"user_id"}, c.assigns); got != c.unsure {
			t.Errorf("case %d: %v, want %v", i, got, c.unsure)
		}
	}
}
