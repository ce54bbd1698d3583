/* Pypper/options_env.c: applies the PYPPER_* environment variables to a
 * configuration, rejecting unknown names (with did-you-mean) and bad values with a
 * one-line message that names the variable, the value (escaped: no control or binary
 * bytes) and what is accepted. Checks between options are pypper_config_check()'s. */
#include "options.h"

#include <stdio.h>
#include <string.h>

int pypper_config_apply_env(pypper_config *cfg, char *const *envp, char *err, size_t errlen)
{
    const size_t plen = strlen(PYPPER_ENV_PREFIX);
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *entry = envp[i];
        if (strncmp(entry, PYPPER_ENV_PREFIX, plen) != 0)
            continue;
        const char *eq = strchr(entry, '=');
        if (!eq)
            continue;
        char name[128];
        size_t nlen = (size_t)(eq - entry) - plen;
        if (nlen >= sizeof(name))
            nlen = sizeof(name) - 1;
        memcpy(name, entry + plen, nlen);
        name[nlen] = '\0';
        char shown[160];             /* the name escaped as in a message, unquoted */
        pypper_quote_text(name, shown, sizeof(shown));
        size_t slen = strlen(shown);
        memmove(shown, shown + 1, slen - 2);
        shown[slen - 2] = '\0';
        const char *value = eq + 1;

        const pypper_option_def *def = pypper_option_find(name);
        if (!def) {
            const char *guess = pypper_option_suggest(name);
            if (guess)
                snprintf(err, errlen,
                         "pypper: unknown variable %s%s (did you mean %s%s?); "
                         "'python3 -m pypper options' lists them all",
                         PYPPER_ENV_PREFIX, shown, PYPPER_ENV_PREFIX, guess);
            else
                snprintf(err, errlen,
                         "pypper: unknown variable %s%s; "
                         "'python3 -m pypper options' lists them all",
                         PYPPER_ENV_PREFIX, shown);
            return -1;
        }
        char why[PYPPER_ERR_MAX];
        if (pypper_option_parse(def, value, PYPPER_SRC_ENV, cfg, why, sizeof(why)) < 0) {
            char quoted[80];
            pypper_quote_text(value, quoted, sizeof(quoted));
            snprintf(err, errlen, "pypper: bad value %s for %s%s: %s", quoted,
                     PYPPER_ENV_PREFIX, name, why);
            return -1;
        }
    }
    return 0;
}
