/* stage_plugin.h — stampvet as a dia_stage.h stage.
 *
 * sv_stage_descriptor() returns stampvet's static descriptor.  The loadable
 * module stampvet.so exports it as dia_stage_entry (stage_module.c); the CLI
 * and tests register it with dia_host_register_static("stampvet", ...).
 * Thread safety: as dia_stage.h section 5.
 */
#ifndef SV_STAGE_PLUGIN_H
#define SV_STAGE_PLUGIN_H

#include "dia_stage.h"

#ifdef __cplusplus
extern "C" {
#endif

const dia_stage_descriptor *sv_stage_descriptor(void);

#ifdef __cplusplus
}
#endif
#endif
