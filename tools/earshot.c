/* earshot.c — the `earshot` command: git-style subcommands.
 *
 *   earshot train --data MANIFEST -o model.earshot [OPTION…]
 *   earshot label [--model MODEL] [--format FORMAT] [-o OUT] FILE…
 *   earshot eval [--model MODEL] --data MANIFEST [--json]
 *   earshot info MODEL [--json]
 *   earshot help [COMMAND]      earshot --help      earshot --version
 *
 * Each subcommand lives in its own file with an entry point of type
 * es_command_fn and parses its own options (GOptionContext, so `--help` works
 * on each).  Adding one means a row in `commands` below and a source file in
 * tools/meson.build.
 */
#include "earshot-tool.h"

#include <gst/gst.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  es_command_fn fn;             /* NULL: planned, not built yet */
  const char *summary;
} es_command;

static const es_command commands[] = {
  { "train", es_cmd_train, "train a model on labelled audio" },
  { "label", es_cmd_label, "label audio files with a model, through the "
    "element" },
  { "eval", es_cmd_eval, "frame and segment metrics of a model on labelled "
    "data" },
  { "info", es_cmd_info, "print everything inside a model file" },
};

static const es_command *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void
print_usage (FILE *out)
{
  fprintf (out,
      "Usage: earshot COMMAND [OPTION…]\n"
      "\n"
      "Tells what is sounding: trains, runs, evaluates and inspects\n"
      "recurrent audio frame classifiers for the GStreamer element `earshot`.\n"
      "\n"
      "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].fn != NULL)
      fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
      "\n"
      "Options:\n"
      "  -h, --help     show this help\n"
      "  --version      show the version\n"
      "\n"
      "'earshot help COMMAND' or 'earshot COMMAND --help' explains a "
      "command.\n"
      "Exit status: 0 success, 1 failure, 2 bad command line, 130 "
      "interrupted.\n");
}

static void
print_version (void)
{
  char *gst = gst_version_string ();
  printf ("earshot %s (%s)\n", earshot_version (), gst);
  g_free (gst);
}

static int
run (const es_command *cmd, int argc, char **argv)
{
  if (cmd->fn == NULL) {
    fprintf (stderr, "earshot: '%s' is planned but not built yet\n",
        cmd->name);
    return ES_EXIT_FAILURE;
  }
  char *prg = g_strconcat ("earshot ", cmd->name, NULL);
  g_set_prgname (prg);
  /* argv[0] becomes "earshot NAME" for GOption's usage line. */
  char **args = g_new0 (char *, argc + 1);
  args[0] = prg;
  for (int i = 1; i < argc; i++)
    args[i] = argv[i];
  int status = cmd->fn (argc, args);
  g_free (args);
  g_free (prg);
  return status;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* Numbers go out, into label files, tables, CSV and JSON, with '.'
   * whatever the locale: Audacity and our own label parser read no
   * other. */
  setlocale (LC_NUMERIC, "C");
  g_set_prgname ("earshot");

  if (argc < 2) {
    print_usage (stderr);
    return ES_EXIT_USAGE;
  }
  const char *a = argv[1];
  if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
    print_usage (stdout);
    return ES_EXIT_OK;
  }
  if (strcmp (a, "--version") == 0 || strcmp (a, "-V") == 0) {
    print_version ();
    return ES_EXIT_OK;
  }
  if (strcmp (a, "help") == 0) {
    if (argc < 3) {
      print_usage (stdout);
      return ES_EXIT_OK;
    }
    const es_command *cmd = find_command (argv[2]);
    if (cmd == NULL) {
      fprintf (stderr, "earshot: '%s' is not an earshot command; see "
          "'earshot --help'\n", argv[2]);
      return ES_EXIT_USAGE;
    }
    static char help_opt[] = "--help";
    char *help_argv[] = { argv[0], help_opt, NULL };
    return run (cmd, 2, help_argv);
  }
  const es_command *cmd = find_command (a);
  if (cmd == NULL) {
    fprintf (stderr, "earshot: '%s' is not an earshot command; see "
        "'earshot --help'\n", a);
    return ES_EXIT_USAGE;
  }
  return run (cmd, argc - 1, argv + 1);
}
