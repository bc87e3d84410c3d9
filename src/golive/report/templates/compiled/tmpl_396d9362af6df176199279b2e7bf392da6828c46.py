from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'report.html.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_r = resolve('r')
    l_0_charts = missing
    try:
        t_1 = environment.filters['format']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'format' found.")
    try:
        t_2 = environment.filters['join']
    except KeyError:
        @internalcode
        def t_2(*unused):
            raise TemplateRuntimeError("No filter named 'join' found.")
    try:
        t_3 = environment.filters['lower']
    except KeyError:
        @internalcode
        def t_3(*unused):
            raise TemplateRuntimeError("No filter named 'lower' found.")
    try:
        t_4 = environment.filters['upper']
    except KeyError:
        @internalcode
        def t_4(*unused):
            raise TemplateRuntimeError("No filter named 'upper' found.")
    pass
    l_0_charts = context.vars['charts'] = environment.get_template('charts.html.j2', 'report.html.j2')._get_default_module(context)
    context.exported_vars.discard('charts')
    yield '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:; base-uri \'none\'; form-action \'none\'">\n<meta name="referrer" content="no-referrer">\n<meta name="generator" content="golive '
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'version'))
    yield '">\n<title>'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'verdict'))
    yield ' · '
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'title'))
    yield ' · '
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'run_id'))
    yield '</title>\n<style>\n'
    template = environment.get_template('report.css', 'report.html.j2')
    gen = template.root_render_func(template.new_context(context.get_all(), True, {'charts': l_0_charts}))
    try:
        for event in gen:
            yield event
    finally: gen.close()
    yield '</style>\n</head>\n<body>\n<main class="page">\n\n<header class="masthead">\n  <p class="kicker">golive run report · <span class="mono">'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'run_id'))
    yield '</span></p>\n  <h1>'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'title'))
    yield '</h1>\n  <p class="sub">\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'service'):
        pass
        yield '<span>'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'service'))
        yield '</span>'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'environment'):
        pass
        yield '<span>environment <b>'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'environment'))
        yield '</b></span>'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'mode'):
        pass
        yield '<span>mode <b>'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'mode'))
        yield '</b></span>'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rehearsal_note'):
        pass
        yield '<span>rehearsal <b>'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rehearsal_note'))
        yield '</b></span>'
    yield '    <span>runbook <b>'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'runbook'))
    yield '</b></span>\n  </p>\n\n  <section class="verdict v-'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'verdict_class'))
    yield '" aria-label="Verdict">\n    <div class="verdict-word" id="verdict">'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'verdict'))
    yield '</div>\n    <div class="verdict-body">\n      <p class="status">Run status <b>'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'status_label'))
    yield '</b>'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'elapsed'):
        pass
        yield ' · took '
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'elapsed'))
    yield '</p>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'):
        pass
        yield '      <p class="who">\n        <b>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'decision'))
        yield '</b>\n'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'default'):
            pass
            yield 'by deadline default'
        else:
            pass
            yield 'decided by <b>'
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'by'))
            yield '</b>'
        yield '        at <time>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'at'))
        yield '</time>'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 't'):
            pass
            yield ' <span class="nw">('
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 't'))
            yield ')</span>'
        yield '      </p>\n'
    else:
        pass
        yield '      <p class="who">No GO/NO-GO decision was recorded.</p>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'):
        pass
        yield '      <p class="who">Rollback started by <b>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'by'))
        yield '</b> at <time>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'started_at'))
        yield '</time>'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 't'):
            pass
            yield ' <span class="nw">('
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 't'))
            yield ')</span>'
        yield '; rollback steps <span class="badge o-'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'outcome'))
        yield '">'
        yield escape(t_4(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'outcome')))
        yield '</span></p>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'reason'):
        pass
        yield '<p class="reason">'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'reason'))
        yield '</p>'
    yield '    </div>\n  </section>\n</header>\n\n<section class="facts" aria-label="Run facts">\n  <dl>\n    <div><dt>Release</dt><dd>\n'
    if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'tag'):
        pass
        yield '<b>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'tag'))
        yield '</b>'
    if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'sha'):
        pass
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'tag'):
            pass
            yield '<br>'
        yield '<span class="mono hash">'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'sha'))
        yield '</span>'
    if ((not environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'tag')) and (not environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'sha'))):
        pass
        yield '<span class="flag">no release pinned</span>'
    for l_1_a in environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'artifacts'):
        _loop_vars = {}
        pass
        yield '<br><span class="mono small">'
        yield escape(l_1_a)
        yield '</span>'
    l_1_a = missing
    for (l_1_k, l_1_v) in context.call(environment.getattr(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'release'), 'other'), 'items')):
        _loop_vars = {}
        pass
        yield '<br><span class="small">'
        yield escape(l_1_k)
        yield ': '
        yield escape(l_1_v)
        yield '</span>'
    l_1_k = l_1_v = missing
    yield '    </dd></div>\n    <div><dt>Started</dt><dd class="nw">'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'started'))
    yield '</dd></div>\n    <div><dt>Finished</dt><dd class="nw">'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'finished'))
    yield '</dd></div>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'anchor'):
        pass
        yield '<div><dt>T-0</dt><dd class="nw">'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'anchor'))
        yield '</dd></div>'
    yield '    <div class="wide"><dt>Runbook digest (sha256)</dt><dd class="mono hash">'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'digest'))
    yield '</dd></div>\n    <div class="wide"><dt>Event chain head ('
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'events'))
    yield ' events)</dt><dd class="mono hash">'
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'head_hash'))
    yield '\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'chain'):
        pass
        yield '<br><span class="chain c-'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'chain'), 'status'))
        yield '">chain '
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'chain'), 'status'))
        yield '</span> <span class="small">'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'chain'), 'detail'))
        yield '</span>'
    yield '    </dd></div>\n  </dl>\n</section>\n\n<nav class="toc" aria-label="Sections">\n  <a href="#timeline">Timeline</a>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'):
        pass
        yield '<a href="#rollback">Rollback</a>'
    yield '  <a href="#decision">Decision</a>\n  <a href="#triggers">Triggers</a>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'coverage'):
        pass
        yield '<a href="#coverage">Coverage</a>'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'judgements'):
        pass
        yield '<a href="#judgements">Judgements</a>'
    yield '  <a href="#steps">Steps</a>\n  <a href="#evidence">Evidence</a>\n  <a href="#signoff">Sign-off</a>\n  <a href="#completion">Completion</a>\n  <a href="#roles">Roles</a>\n  <a href="#comms">Comms</a>\n</nav>\n\n<section id="timeline" class="card">\n  <h2>Timeline</h2>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'timeline'):
        pass
        yield '  <p class="note">One bar per step, coloured by outcome, on the run\'s '
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'timeline'), 'axis_label'))
        yield '. Hover a bar for its details.</p>\n  <div class="scroll tl-box-wide">'
        yield escape(context.call(environment.getattr((undefined(name='charts') if l_0_charts is missing else l_0_charts), 'timeline'), environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'timeline')))
        yield '</div>\n'
        if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'timeline_narrow'):
            pass
            yield '<div class="tl-box-narrow">'
            yield escape(context.call(environment.getattr((undefined(name='charts') if l_0_charts is missing else l_0_charts), 'timeline'), environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'timeline_narrow')))
            yield '</div>'
        yield '  <ul class="legend">\n'
        for l_1_o in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'outcomes'):
            _loop_vars = {}
            pass
            yield '<li><span class="sw o-'
            yield escape(l_1_o)
            yield '"></span>'
            yield escape(l_1_o)
            yield '</li>'
        l_1_o = missing
        yield '    <li><span class="sw o-waiting"></span>waiting</li>\n    <li><span class="mk mk-decision"></span>decision</li>\n    <li><span class="mk mk-fired"></span>trigger fired</li>\n    <li><span class="mk mk-rollback"></span>rollback</li>\n  </ul>\n'
    else:
        pass
        yield '  <p class="empty">No step has started yet.</p>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'scribe'):
        pass
        yield '  <h3 id="scribe">Scribe\'s log</h3>\n  <div class="scroll"><table class="grid stack scribe">\n    <thead><tr><th>planned</th><th>actual</th><th>what</th><th>result</th><th>at (UTC)</th><th>by</th></tr></thead>\n    <tbody>\n'
        for l_1_t in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'scribe'):
            _loop_vars = {}
            pass
            yield '<tr><td data-label="Planned">'
            yield escape(environment.getattr(l_1_t, 'planned'))
            yield '</td><td data-label="Actual">'
            yield escape(environment.getattr(l_1_t, 't'))
            yield '</td><td data-label="What">'
            yield escape(environment.getattr(l_1_t, 'what'))
            yield '</td><td data-label="Result">'
            yield escape(environment.getattr(l_1_t, 'result'))
            yield '</td><td data-label="At (UTC)">'
            yield escape(environment.getattr(l_1_t, 'at'))
            yield '</td><td data-label="By">'
            yield escape(environment.getattr(l_1_t, 'actor'))
            yield '</td></tr>\n'
        l_1_t = missing
        yield '</tbody>\n  </table></div>\n'
    yield '</section>\n\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'):
        pass
        yield '<section id="rollback" class="card alert">\n  <h2>Rollback</h2>\n  <dl class="kv">\n    <div><dt>Why</dt><dd>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'reason'))
        yield '</dd></div>\n    <div><dt>Started by</dt><dd>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'by'))
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'source'):
            pass
            yield ' <span class="small">(source: '
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'source'))
            yield ')</span>'
        yield '</dd></div>\n    <div><dt>Started</dt><dd>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'started_at'))
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 't'):
            pass
            yield ' · '
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 't'))
        yield '</dd></div>\n    <div><dt>Finished</dt><dd>'
        yield escape((environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'finished_at') or 'not finished'))
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'took'):
            pass
            yield ' · took '
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'took'))
        yield '</dd></div>\n    <div><dt>Outcome</dt><dd><span class="badge o-'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'outcome'))
        yield '">'
        yield escape(t_4(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback'), 'outcome')))
        yield '</span></dd></div>\n  </dl>\n  <table class="grid stack">\n    <thead><tr><th>Rollback step</th><th>Outcome</th><th>Took</th><th>Result</th></tr></thead>\n    <tbody>\n'
        t_5 = 1
        for l_1_s in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'rollback_steps'):
            _loop_vars = {}
            pass
            yield '      <tr>\n        <td data-label="Step">'
            yield escape(environment.getattr(l_1_s, 'title'))
            yield '<br><span class="mono small">'
            yield escape(environment.getattr(l_1_s, 'id'))
            yield '</span></td>\n        <td data-label="Outcome"><span class="badge o-'
            yield escape(environment.getattr(l_1_s, 'outcome'))
            yield '">'
            yield escape(t_4(environment.getattr(l_1_s, 'outcome')))
            yield '</span></td>\n        <td data-label="Took">'
            yield escape(environment.getattr(l_1_s, 'duration'))
            yield '</td>\n        <td data-label="Result" class="text">'
            yield escape(environment.getattr(l_1_s, 'summary'))
            yield '</td>\n      </tr>\n'
            t_5 = 0
        l_1_s = missing
        if t_5:
            pass
            yield '      <tr><td colspan="4" class="empty">No rollback step has run.</td></tr>\n'
        yield '    </tbody>\n  </table>\n'
        if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'follow_ups'):
            pass
            yield '  <h3>Follow-up</h3>\n  <ul class="plain" id="follow-ups">\n'
            for l_1_f in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'follow_ups'):
                _loop_vars = {}
                pass
                yield '    <li><span class="badge o-'
                yield escape(('pass' if environment.getattr(l_1_f, 'by') else 'warn'))
                yield '">'
                yield escape(('CONFIRMED' if environment.getattr(l_1_f, 'by') else 'DUE'))
                yield '</span> '
                yield escape(environment.getattr(l_1_f, 'title'))
                yield ' <span class="mono small">'
                yield escape(environment.getattr(l_1_f, 'id'))
                yield '</span>'
                if environment.getattr(l_1_f, 'by'):
                    pass
                    yield ' <span class="small">by '
                    yield escape(environment.getattr(l_1_f, 'by'))
                    yield ' at '
                    yield escape(environment.getattr(l_1_f, 'at'))
                    yield '</span>'
                yield '</li>\n'
            l_1_f = missing
            yield '  </ul>\n'
        yield '</section>\n'
    yield '\n<section id="decision" class="card">\n  <h2>Decision</h2>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'):
        pass
        yield '  <dl class="kv">\n    <div><dt>Decision</dt><dd><b class="dec d-'
        yield escape(t_3(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'decision')))
        yield '">'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'decision'))
        yield '</b></dd></div>\n    <div><dt>By</dt><dd>'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'default'):
            pass
            yield 'the deadline (default applied)'
        else:
            pass
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'by'))
        yield '</dd></div>\n'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'approvers'):
            pass
            yield '<div><dt>Approved by</dt><dd>'
            yield escape(t_2(context.eval_ctx, environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'approvers'), ', '))
            yield ' (quorum)</dd></div>'
        yield '    <div><dt>When</dt><dd>'
        yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'at'))
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 't'):
            pass
            yield ' · '
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 't'))
        yield '</dd></div>\n'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'reason'):
            pass
            yield '<div><dt>Reason</dt><dd>'
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'reason'))
            yield '</dd></div>'
        yield '  </dl>\n'
        if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'statement'):
            pass
            yield '  <blockquote class="statement">'
            yield escape(environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'decision'), 'statement'))
            yield '</blockquote>\n'
    else:
        pass
        yield '  <p class="empty">No GO/NO-GO decision was recorded in this run.</p>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'pending'):
        pass
        yield '  <h3>Waiting</h3>\n  <ul>'
        for l_1_p in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'pending'):
            _loop_vars = {}
            pass
            yield '<li>'
            yield escape(environment.getattr(l_1_p, 'title'))
            yield ' <span class="mono small">'
            yield escape(environment.getattr(l_1_p, 'id'))
            yield '</span>: waiting for '
            yield escape(environment.getattr(l_1_p, 'waiting_for'))
            if environment.getattr(l_1_p, 'deadline'):
                pass
                yield ', deadline '
                yield escape(environment.getattr(l_1_p, 'deadline'))
            yield '</li>'
        l_1_p = missing
        yield '</ul>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'refusals'):
        pass
        yield '  <h3>Refused acts</h3>\n  <table class="grid stack">\n    <thead><tr><th>When</th><th>Who</th><th>Act</th><th>Why refused</th></tr></thead>\n    <tbody>\n'
        for l_1_x in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'refusals'):
            _loop_vars = {}
            pass
            yield '      <tr><td data-label="When">'
            yield escape(environment.getattr(l_1_x, 'at'))
            yield '</td><td data-label="Who">'
            yield escape(environment.getattr(l_1_x, 'by'))
            yield '</td><td data-label="Act">'
            yield escape(environment.getattr(l_1_x, 'act'))
            if environment.getattr(l_1_x, 'step'):
                pass
                yield ' <span class="mono small">'
                yield escape(environment.getattr(l_1_x, 'step'))
                yield '</span>'
            yield '</td><td data-label="Why" class="text">'
            yield escape(environment.getattr(l_1_x, 'why'))
            yield '</td></tr>\n'
        l_1_x = missing
        yield '    </tbody>\n  </table>\n'
    yield '  <h3>Waivers</h3>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'waivers'):
        pass
        yield '  <table class="grid stack">\n    <thead><tr><th>Step</th><th>Waived by</th><th>When</th><th>Ticket</th><th>Reason</th></tr></thead>\n    <tbody>\n'
        for l_1_w in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'waivers'):
            _loop_vars = {}
            pass
            yield '      <tr><td data-label="Step" class="mono">'
            yield escape(environment.getattr(l_1_w, 'step'))
            yield '</td><td data-label="By">'
            yield escape(environment.getattr(l_1_w, 'by'))
            yield '</td><td data-label="When">'
            yield escape(environment.getattr(l_1_w, 'at'))
            yield '</td><td data-label="Ticket">'
            yield escape(environment.getattr(l_1_w, 'ticket'))
            yield '</td><td data-label="Reason" class="text">'
            yield escape(environment.getattr(l_1_w, 'reason'))
            yield '</td></tr>\n'
        l_1_w = missing
        yield '    </tbody>\n  </table>\n'
    else:
        pass
        yield '  <p class="empty">No step was waived.</p>\n'
    yield '</section>\n\n<section id="triggers" class="card">\n  <h2>Triggers</h2>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'triggers'):
        pass
        yield '  <p class="note">Each trigger\'s metric as it was evaluated, against the threshold in its <code>when</code>. The shaded side of the line is a breach.</p>\n  <div class="triggers">\n'
        for l_1_t in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'triggers'):
            _loop_vars = {}
            pass
            yield '    <article class="trigger'
            if environment.getattr(l_1_t, 'fired'):
                pass
                yield ' t-fired'
            yield '">\n      <h3>'
            yield escape(environment.getattr(l_1_t, 'title'))
            yield '</h3>\n      <p class="tmeta">\n        <code>'
            yield escape(environment.getattr(l_1_t, 'when'))
            yield '</code> → <b>'
            yield escape(environment.getattr(l_1_t, 'then'))
            yield '</b>'
            if environment.getattr(l_1_t, 'severity'):
                pass
                yield ' · '
                yield escape(environment.getattr(l_1_t, 'severity'))
            yield '        · state <span class="state s-'
            yield escape(environment.getattr(l_1_t, 'state'))
            yield '">'
            yield escape(environment.getattr(l_1_t, 'state'))
            yield '</span>'
            if environment.getattr(l_1_t, 'value'):
                pass
                yield ' · last '
                yield escape(environment.getattr(l_1_t, 'value'))
            yield '      </p>\n'
            if environment.getattr(environment.getattr(l_1_t, 'chart'), 'empty'):
                pass
                yield '      <p class="empty">No value was recorded for this trigger'
                if environment.getattr(environment.getattr(l_1_t, 'chart'), 'gaps_count'):
                    pass
                    yield ' ('
                    yield escape(environment.getattr(environment.getattr(l_1_t, 'chart'), 'gaps_count'))
                    yield ' evaluations had no data or failed)'
                yield '.</p>\n'
            else:
                pass
                yield '      <div class="chart-wide">'
                yield escape(context.call(environment.getattr((undefined(name='charts') if l_0_charts is missing else l_0_charts), 'metric'), environment.getattr(l_1_t, 'id'), environment.getattr(l_1_t, 'chart'), _loop_vars=_loop_vars))
                yield '</div>\n      <div class="chart-narrow">'
                yield escape(context.call(environment.getattr((undefined(name='charts') if l_0_charts is missing else l_0_charts), 'metric'), environment.getattr(l_1_t, 'id'), environment.getattr(l_1_t, 'chart_narrow'), _loop_vars=_loop_vars))
                yield '</div>\n      <p class="small">'
                yield escape(environment.getattr(environment.getattr(l_1_t, 'chart'), 'points_count'))
                yield ' value'
                yield escape(('' if (environment.getattr(environment.getattr(l_1_t, 'chart'), 'points_count') == 1) else 's'))
                if environment.getattr(environment.getattr(l_1_t, 'chart'), 'gaps_count'):
                    pass
                    yield ', '
                    yield escape(environment.getattr(environment.getattr(l_1_t, 'chart'), 'gaps_count'))
                    yield ' without data (grey ticks)'
                if (not environment.getattr(environment.getattr(l_1_t, 'chart'), 'thresholds')):
                    pass
                    yield '; <span class="flag">no numeric threshold in <code>when</code>, so no line is drawn</span>'
                yield '.</p>\n'
            for l_2_f in environment.getattr(l_1_t, 'fired'):
                _loop_vars = {}
                pass
                yield '      <p class="fired">Fired at '
                yield escape(environment.getattr(l_2_f, 'at'))
                if environment.getattr(l_2_f, 't'):
                    pass
                    yield ' <span class="nw">('
                    yield escape(environment.getattr(l_2_f, 't'))
                    yield ')</span>'
                yield ': '
                yield escape(environment.getattr(l_2_f, 'reason'))
                yield '</p>\n'
            l_2_f = missing
            yield '    </article>\n'
        l_1_t = missing
        yield '  </div>\n'
    else:
        pass
        yield '  <p class="empty">This runbook declares no triggers.</p>\n'
    yield '</section>\n\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'coverage'):
        pass
        yield '<section id="coverage" class="card">\n  <h2>Watched windows</h2>\n  <p class="note">How much of each observe window its triggers really watched: a gap between two readings longer than twice the trigger\'s interval is unwatched. A window passes only at its min_coverage.</p>\n  <table class="grid stack">\n    <thead><tr><th>window</th><th>watched</th><th>min</th><th>extended</th><th>met</th><th>unwatched gaps</th></tr></thead>\n    <tbody>\n'
        for l_1_c in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'coverage'):
            _loop_vars = {}
            pass
            yield '      <tr class="'
            yield escape(('j-pass' if environment.getattr(l_1_c, 'ok') else 'j-fail'))
            yield '"><td data-label="Window">'
            yield escape(environment.getattr(l_1_c, 'title'))
            yield '</td><td data-label="Watched">'
            yield escape(t_1('%.0f', ((environment.getattr(l_1_c, 'fraction') or 0) * 100)))
            yield '%</td><td data-label="Min">'
            yield escape(t_1('%.0f', ((environment.getattr(l_1_c, 'min_coverage') or 0) * 100)))
            yield '%</td><td data-label="Extended">'
            yield escape(t_1('%.0f', (environment.getattr(l_1_c, 'extended') or 0)))
            yield 's</td><td data-label="Met">'
            yield escape(('yes' if environment.getattr(l_1_c, 'ok') else markup_join(('NO (', environment.getattr(l_1_c, 'least'), ' least watched)', ))))
            yield '</td><td data-label="Unwatched gaps">'
            for (l_2_tid, l_2_t) in context.call(environment.getattr(environment.getattr(l_1_c, 'triggers'), 'items'), _loop_vars=_loop_vars):
                _loop_vars = {}
                pass
                for l_3_g in environment.getattr(l_2_t, 'gaps'):
                    _loop_vars = {}
                    pass
                    yield '<span class="nw">'
                    yield escape(l_2_tid)
                    yield ' '
                    yield escape(environment.getitem(l_3_g, 0)[11:19])
                    yield '–'
                    yield escape(environment.getitem(l_3_g, 1)[11:19])
                    yield '</span> '
                l_3_g = missing
            l_2_tid = l_2_t = missing
            yield '</td></tr>\n'
        l_1_c = missing
        yield '    </tbody>\n  </table>\n</section>\n'
    yield '\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'judgements'):
        pass
        yield '<section id="judgements" class="card">\n  <h2>Canary judgements</h2>\n  <p class="note">Each judged step\'s canary against its baseline, metric by metric: the canary\'s and the baseline\'s median (or rate), the change, and the p-value after the Holm correction.</p>\n'
        for l_1_j in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'judgements'):
            _loop_vars = {}
            pass
            yield '  <article class="judgement">\n    <h3>'
            yield escape(environment.getattr(l_1_j, 'title'))
            yield ' <span class="state">'
            yield escape(environment.getattr(l_1_j, 'verdict'))
            yield '</span></h3>\n    <p class="tmeta">score '
            yield escape(environment.getattr(l_1_j, 'score'))
            yield ' · '
            yield escape(environment.getattr(l_1_j, 'reason'))
            yield '</p>\n    <table class="grid">\n      <thead><tr><th>metric</th><th>canary</th><th>baseline</th><th>change</th><th>p (Holm)</th><th>samples</th><th>test</th><th>status</th></tr></thead>\n      <tbody>\n'
            for l_2_m in environment.getattr(l_1_j, 'rows'):
                _loop_vars = {}
                pass
                yield '        <tr class="j-'
                yield escape(environment.getattr(l_2_m, 'status'))
                yield '"><td>'
                yield escape(environment.getattr(l_2_m, 'id'))
                if environment.getattr(l_2_m, 'critical'):
                    pass
                    yield ' <b>critical</b>'
                yield '</td><td>'
                yield escape(environment.getattr(l_2_m, 'canary'))
                yield '</td><td>'
                yield escape(environment.getattr(l_2_m, 'baseline'))
                yield '</td><td>'
                yield escape(environment.getattr(l_2_m, 'effect'))
                yield '</td><td>'
                yield escape(environment.getattr(l_2_m, 'p'))
                yield '</td><td>'
                yield escape(environment.getattr(l_2_m, 'n'))
                yield '</td><td>'
                yield escape(environment.getattr(l_2_m, 'test'))
                yield '</td><td title="'
                yield escape(environment.getattr(l_2_m, 'reason'))
                yield '">'
                yield escape(environment.getattr(l_2_m, 'status'))
                yield '</td></tr>\n'
            l_2_m = missing
            yield '      </tbody>\n    </table>\n  </article>\n'
        l_1_j = missing
        yield '</section>\n'
    yield '\n<section id="steps" class="card">\n  <h2>Steps</h2>\n  <table class="grid stack steps">\n    <thead><tr><th>Step</th><th>Kind</th>'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'steps_planned'):
        pass
        yield '<th>Planned</th>'
    yield '<th>Started</th><th>Took</th><th>Outcome</th><th>Who</th><th>Result</th></tr></thead>\n    <tbody>\n'
    for l_1_s in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'steps'):
        _loop_vars = {}
        pass
        if environment.getattr(l_1_s, 'group'):
            pass
            yield '      <tr class="phase"><th colspan="'
            yield escape((8 if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'steps_planned') else 7))
            yield '" scope="rowgroup"><span class="badge o-'
            yield escape(environment.getattr(l_1_s, 'outcome'))
            yield '">'
            yield escape(t_4(environment.getattr(l_1_s, 'outcome')))
            yield '</span> '
            yield escape(environment.getattr(l_1_s, 'title'))
            if environment.getattr(l_1_s, 'planned'):
                pass
                yield ' <span class="small">planned '
                yield escape(environment.getattr(l_1_s, 'planned'))
                yield '</span>'
            yield '</th></tr>\n'
        else:
            pass
            yield '      <tr>\n        <td data-label="Step">'
            yield escape(environment.getattr(l_1_s, 'title'))
            yield '<br><span class="mono small">'
            yield escape(environment.getattr(l_1_s, 'id'))
            yield '</span>'
            if (not environment.getattr(l_1_s, 'blocking')):
                pass
                yield ' <span class="small">(non-blocking)</span>'
            yield '</td>\n        <td data-label="Kind">'
            yield escape(environment.getattr(l_1_s, 'kind'))
            yield '</td>\n'
            if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'steps_planned'):
                pass
                yield '<td data-label="Planned">'
                yield escape(environment.getattr(l_1_s, 'planned'))
                yield '</td>'
            yield '        <td data-label="Started" class="nw">'
            yield escape(environment.getattr(l_1_s, 't'))
            yield '</td>\n        <td data-label="Took" class="nw">'
            yield escape(environment.getattr(l_1_s, 'duration'))
            if environment.getattr(l_1_s, 'expected'):
                pass
                yield '<br><span class="small">plan '
                yield escape(environment.getattr(l_1_s, 'expected'))
                yield '</span>'
            if (environment.getattr(l_1_s, 'attempts') > 1):
                pass
                yield '<br><span class="small">'
                yield escape(environment.getattr(l_1_s, 'attempts'))
                yield ' attempts</span>'
            yield '</td>\n        <td data-label="Outcome"><span class="badge o-'
            yield escape(environment.getattr(l_1_s, 'outcome'))
            yield '">'
            yield escape(t_4(environment.getattr(l_1_s, 'outcome')))
            yield '</span></td>\n        <td data-label="Who">'
            yield escape(environment.getattr(l_1_s, 'who'))
            if environment.getattr(l_1_s, 'role'):
                pass
                yield '<br><span class="small">role '
                yield escape(environment.getattr(l_1_s, 'role'))
                yield '</span>'
            yield '</td>\n        <td data-label="Result" class="text"><div class="'
            if environment.getattr(l_1_s, 'long'):
                pass
                yield 'long'
            yield '">'
            yield escape(environment.getattr(l_1_s, 'summary'))
            yield '</div>'
            if environment.getattr(l_1_s, 'waiver'):
                pass
                yield '<div class="small">waived by '
                yield escape(environment.getattr(environment.getattr(l_1_s, 'waiver'), 'by'))
                yield ', '
                yield escape(environment.getattr(environment.getattr(l_1_s, 'waiver'), 'ticket'))
                yield ': '
                yield escape(environment.getattr(environment.getattr(l_1_s, 'waiver'), 'reason'))
                yield '</div>'
            yield '</td>\n      </tr>\n'
    l_1_s = missing
    yield '    </tbody>\n  </table>\n</section>\n\n<section id="evidence" class="card">\n  <h2>Evidence</h2>\n  <h3>Checklist'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'checklist_missing'):
        pass
        yield ' <span class="flag">'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'checklist_missing'))
        yield ' missing</span>'
    yield '</h3>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'checklist'):
        pass
        yield '  <ul class="checks">\n'
        for l_1_i in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'checklist'):
            _loop_vars = {}
            pass
            yield '    <li class="c-'
            yield escape(environment.getattr(l_1_i, 'status'))
            yield '"><span class="mark" aria-hidden="true">'
            if (environment.getattr(l_1_i, 'status') == 'complete'):
                pass
                yield '✓'
            elif (environment.getattr(l_1_i, 'status') == 'missing'):
                pass
                yield '✗'
            else:
                pass
                yield '–'
            yield '</span>\n      <span><b>'
            yield escape(environment.getattr(l_1_i, 'title'))
            yield '</b> <span class="state s-'
            yield escape(environment.getattr(l_1_i, 'status'))
            yield '">'
            yield escape(environment.getattr(l_1_i, 'status'))
            yield '</span>\n      <span class="small">steps: '
            yield escape(environment.getattr(l_1_i, 'steps'))
            if environment.getattr(l_1_i, 'missing'):
                pass
                yield '; missing: <b>'
                yield escape(environment.getattr(l_1_i, 'missing'))
                yield '</b>'
            yield '</span></span></li>\n'
        l_1_i = missing
        yield '  </ul>\n'
    else:
        pass
        yield '  <p class="empty">This runbook declares no evidence checklist.</p>\n'
    yield '  <h3>Files and outputs (sha256)</h3>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'evidence'):
        pass
        yield '  <table class="grid stack evidence">\n    <thead><tr><th>Step</th><th>Item</th><th>Size</th><th>sha256</th></tr></thead>\n    <tbody>\n'
        for l_1_e in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'evidence'):
            _loop_vars = {}
            pass
            yield '      <tr>\n        <td data-label="Step">'
            yield escape(environment.getattr(l_1_e, 'step_title'))
            yield '<br><span class="mono small">'
            yield escape(environment.getattr(l_1_e, 'step'))
            yield '</span></td>\n        <td data-label="Item">'
            yield escape(environment.getattr(l_1_e, 'name'))
            yield '<br><span class="small">'
            yield escape(environment.getattr(l_1_e, 'media_type'))
            yield '</span></td>\n        <td data-label="Size">'
            yield escape(environment.getattr(l_1_e, 'size'))
            yield '</td>\n        <td data-label="sha256"><span class="mono hash sha256">'
            yield escape(environment.getattr(l_1_e, 'sha256'))
            yield '</span>'
            if environment.getattr(l_1_e, 'status'):
                pass
                yield '<br><span class="blob b-'
                yield escape(environment.getattr(l_1_e, 'status'))
                yield '">'
                yield escape(environment.getattr(l_1_e, 'status'))
                yield '</span> <span class="small">'
                yield escape(environment.getattr(l_1_e, 'detail'))
                yield '</span>'
            yield '</td>\n      </tr>\n'
        l_1_e = missing
        yield '    </tbody>\n  </table>\n'
    else:
        pass
        yield '  <p class="empty">No step stored evidence files.</p>\n'
    yield '</section>\n\n<section id="signoff" class="card">\n  <h2>Sign-off'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'signoffs_pending'):
        pass
        yield ' <span class="flag">'
        yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'signoffs_pending'))
        yield ' pending</span>'
    yield '</h2>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'signoffs'):
        pass
        yield '  <ul class="checks">\n'
        for l_1_s in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'signoffs'):
            _loop_vars = {}
            pass
            yield '    <li class="c-'
            yield escape(('complete' if environment.getattr(l_1_s, 'signed') else 'pending'))
            yield '"><span class="mark" aria-hidden="true">'
            if environment.getattr(l_1_s, 'signed'):
                pass
                yield '✓'
            else:
                pass
                yield '…'
            yield '</span>\n      <span><b>'
            yield escape(environment.getattr(l_1_s, 'title'))
            yield '</b>\n'
            if environment.getattr(l_1_s, 'signed'):
                pass
                yield 'signed by <b>'
                yield escape(environment.getattr(l_1_s, 'by'))
                yield '</b> at '
                yield escape(environment.getattr(l_1_s, 'at'))
                if environment.getattr(l_1_s, 'statement'):
                    pass
                    yield '<br><q>'
                    yield escape(environment.getattr(l_1_s, 'statement'))
                    yield '</q>'
            else:
                pass
                yield '<span class="state s-pending">pending</span>'
            yield '</span></li>\n'
        l_1_s = missing
        yield '  </ul>\n'
    else:
        pass
        yield '  <p class="empty">This runbook asks for no sign-off.</p>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'signoff_fields'):
        pass
        yield '  <h3>Sign-off fields</h3>\n  <table class="fields">\n    <tbody>\n'
        for l_1_f in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'signoff_fields'):
            _loop_vars = {}
            pass
            yield '<tr><th>'
            yield escape(environment.getattr(l_1_f, 'title'))
            yield '</th><td>'
            if environment.getattr(l_1_f, 'value'):
                pass
                yield escape(environment.getattr(l_1_f, 'value'))
            else:
                pass
                yield '<span class="state s-pending">blank</span>'
            yield '</td><td class="small">'
            yield escape(environment.getattr(l_1_f, 'by'))
            yield '</td></tr>\n'
        l_1_f = missing
        yield '</tbody>\n  </table>\n'
    yield '</section>\n\n<section id="completion" class="card">\n  <h2>Completion criteria '
    if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'completion'), 'complete'):
        pass
        yield '<span class="badge o-pass">COMPLETE</span>'
    else:
        pass
        yield '<span class="badge o-fail">NOT COMPLETE</span>'
    yield '</h2>\n'
    if environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'completion'), 'criteria'):
        pass
        yield '  <ul class="checks">\n'
        for l_1_c in environment.getattr(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'completion'), 'criteria'):
            _loop_vars = {}
            pass
            yield '    <li class="c-'
            yield escape(('complete' if environment.getattr(l_1_c, 'met') else 'missing'))
            yield '"><span class="mark" aria-hidden="true">'
            if environment.getattr(l_1_c, 'met'):
                pass
                yield '✓'
            else:
                pass
                yield '✗'
            yield '</span>\n      <span><b>'
            yield escape(environment.getattr(l_1_c, 'title'))
            yield '</b>'
            if environment.getattr(l_1_c, 'why'):
                pass
                yield ' <span class="small">'
                yield escape(t_2(context.eval_ctx, environment.getattr(l_1_c, 'why'), '; '))
                yield '</span>'
            yield '</span></li>\n'
        l_1_c = missing
        yield '  </ul>\n'
    else:
        pass
        yield '  <p class="empty">This runbook declares no completion criteria.</p>\n'
    yield '</section>\n\n<section id="roles" class="card">\n  <h2>Roles</h2>\n  <table class="grid stack">\n    <thead><tr><th>Role</th><th>Held by</th><th>Responsibility</th></tr></thead>\n    <tbody>\n'
    t_6 = 1
    for l_1_ro in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'roles'):
        _loop_vars = {}
        pass
        yield '      <tr><td data-label="Role">'
        yield escape(environment.getattr(l_1_ro, 'title'))
        yield ' <span class="mono small">'
        yield escape(environment.getattr(l_1_ro, 'id'))
        yield '</span></td><td data-label="Held by">'
        if environment.getattr(l_1_ro, 'holder'):
            pass
            yield escape(environment.getattr(l_1_ro, 'holder'))
        else:
            pass
            yield '<span class="flag">unassigned</span>'
        yield '</td><td data-label="Does" class="text">'
        yield escape(environment.getattr(l_1_ro, 'description'))
        yield '</td></tr>\n'
        t_6 = 0
    l_1_ro = missing
    if t_6:
        pass
        yield '      <tr><td colspan="3" class="empty">No roles declared.</td></tr>\n'
    yield '    </tbody>\n  </table>\n</section>\n\n<section id="comms" class="card">\n  <h2>Comms sent</h2>\n'
    if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'comms'):
        pass
        yield '  <table class="grid stack">\n    <thead><tr><th>When</th><th>Channel</th><th>Event</th><th>Delivered</th><th>Message</th></tr></thead>\n    <tbody>\n'
        for l_1_c in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'comms'):
            _loop_vars = {}
            pass
            yield '      <tr>\n        <td data-label="When" class="nw">'
            yield escape((environment.getattr(l_1_c, 't') or environment.getattr(l_1_c, 'at')))
            yield '</td>\n        <td data-label="Channel">'
            yield escape(environment.getattr(l_1_c, 'channel'))
            yield '</td>\n        <td data-label="Event" class="mono small">'
            yield escape(environment.getattr(l_1_c, 'event'))
            yield '</td>\n        <td data-label="Delivered">'
            if environment.getattr(l_1_c, 'ok'):
                pass
                yield '<span class="badge o-pass">SENT</span>'
            else:
                pass
                yield '<span class="badge o-fail">FAILED</span>'
                if environment.getattr(l_1_c, 'error'):
                    pass
                    yield '<br><span class="small">'
                    yield escape(environment.getattr(l_1_c, 'error'))
                    yield '</span>'
            yield '</td>\n        <td data-label="Message" class="text">'
            yield escape(environment.getattr(l_1_c, 'text'))
            yield '</td>\n      </tr>\n'
        l_1_c = missing
        yield '    </tbody>\n  </table>\n'
    else:
        pass
        yield '  <p class="empty">No message was sent.</p>\n'
    yield '</section>\n\n'
    if (environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'hypercare') or environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'reports')):
        pass
        yield '<section id="hypercare" class="card">\n  <h2>Hypercare</h2>\n'
        if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'hypercare'):
            pass
            yield '  <table class="grid stack">\n    <thead><tr><th>When</th><th>Check</th><th>Slot</th><th>Outcome</th></tr></thead>\n    <tbody>\n'
            for l_1_h in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'hypercare'):
                _loop_vars = {}
                pass
                yield '      <tr><td data-label="When">'
                yield escape(environment.getattr(l_1_h, 'at'))
                yield '</td><td data-label="Check" class="mono">'
                yield escape(environment.getattr(l_1_h, 'step'))
                yield '</td><td data-label="Slot">'
                yield escape(environment.getattr(l_1_h, 'slot'))
                yield '</td><td data-label="Outcome"><span class="badge o-'
                yield escape(environment.getattr(l_1_h, 'outcome'))
                yield '">'
                yield escape(t_4(environment.getattr(l_1_h, 'outcome')))
                yield '</span></td></tr>\n'
            l_1_h = missing
            yield '    </tbody>\n  </table>\n'
        if environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'reports'):
            pass
            yield '  <h3>Reports</h3>\n  <ul>'
            for l_1_rep in environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'reports'):
                _loop_vars = {}
                pass
                yield '<li><b>'
                yield escape(environment.getattr(l_1_rep, 'id'))
                yield '</b> at '
                yield escape(environment.getattr(l_1_rep, 'at'))
                if environment.getattr(l_1_rep, 'summary'):
                    pass
                    yield ': '
                    yield escape(environment.getattr(l_1_rep, 'summary'))
                yield '</li>'
            l_1_rep = missing
            yield '</ul>\n'
        yield '</section>\n'
    yield '\n<footer class="foot">\n  <p>Written by golive '
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'version'))
    yield " from the run's event log ("
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'events'))
    yield ' events). Check the log with <code>golive verify '
    yield escape(environment.getattr((undefined(name='r') if l_0_r is missing else l_0_r), 'run_id'))
    yield '</code>; the head hash above must match.</p>\n</footer>\n</main>\n</body>\n</html>\n'

blocks = {}
debug_info = '2=37&11=40&12=42&14=48&21=55&22=57&24=59&25=64&26=69&27=74&28=80&31=82&32=84&34=86&35=93&37=96&38=98&39=107&44=118&45=121&47=135&55=141&56=146&57=154&58=157&59=164&61=174&62=176&63=178&64=184&65=186&66=190&73=200&76=204&77=207&88=211&89=214&90=216&91=218&93=224&102=237&107=240&113=259&117=262&118=264&119=271&120=277&121=283&126=288&128=292&129=296&130=300&131=302&138=310&141=313&142=317&151=337&153=340&154=344&155=351&156=357&157=363&159=369&160=372&165=377&167=380&169=396&174=399&175=403&181=419&185=422&186=426&197=442&200=445&201=449&202=453&204=455&205=464&207=473&208=476&210=485&211=487&212=489&214=501&215=505&225=522&232=525&233=529&240=560&244=563&246=567&247=571&251=575&252=579&264=607&266=611&267=614&268=617&271=633&272=641&273=643&274=649&275=651&276=663&277=667&278=674&288=692&289=698&291=701&292=705&293=717&294=723&301=736&305=739&307=743&308=747&309=751&310=753&321=771&322=777&324=780&325=784&326=793&327=795&334=815&338=818&345=836&346=843&348=846&349=850&350=859&363=874&364=878&374=897&378=900&380=904&381=906&382=908&383=910&384=922&394=930&397=933&401=936&402=940&407=952&409=955&415=971'