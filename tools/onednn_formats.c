/*
 * oneDNN convolution timings on resnet-small's shapes (16 px, 512 images), in tfjs' layouts (NHWC,
 * HWIO: "any=0") against the layouts oneDNN picks ("any=1"), one thread; the reason
 * src/backend/onednn/convolution.ts reorders into oneDNN's layouts. Needs libdnnl-dev:
 *   gcc -O2 tools/onednn_formats.c -o /tmp/onednn_formats -ldnnl && OMP_NUM_THREADS=1 /tmp/onednn_formats
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <oneapi/dnnl/dnnl.h>
#define CK(x) do { dnnl_status_t st_ = (x); if (st_) { printf("fail %s: %d\n", #x, st_); exit(1);} } while(0)
static double now(){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec*1e3+t.tv_nsec/1e6; }
dnnl_engine_t eng; dnnl_stream_t st;
static dnnl_memory_t mk(const dnnl_memory_desc_t *md){ dnnl_memory_t m; CK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE)); return m; }
void run(int B,int H,int Ci,int Co,int stride,int pad,int useAny){
  int OH=(H+2*pad-3)/stride+1;
  dnnl_dims_t sd={B,Ci,H,H}, wd={Co,Ci,3,3}, dd={B,Co,OH,OH}, s={stride,stride}, p={pad,pad};
  dnnl_memory_desc_t src,w,dst;
  CK(dnnl_memory_desc_init_by_tag(&src,4,sd,dnnl_f32,useAny?dnnl_format_tag_any:dnnl_nhwc));
  CK(dnnl_memory_desc_init_by_tag(&w,4,wd,dnnl_f32,useAny?dnnl_format_tag_any:dnnl_hwio));
  CK(dnnl_memory_desc_init_by_tag(&dst,4,dd,dnnl_f32,useAny?dnnl_format_tag_any:dnnl_nhwc));
  dnnl_convolution_desc_t fd,bd,bw; dnnl_primitive_desc_t fpd,bdpd,bwpd; dnnl_primitive_t fp,bdp,bwp;
  CK(dnnl_convolution_forward_desc_init(&fd,dnnl_forward_training,dnnl_convolution_direct,&src,&w,NULL,&dst,s,p,p));
  CK(dnnl_primitive_desc_create(&fpd,&fd,NULL,eng,NULL)); CK(dnnl_primitive_create(&fp,fpd));
  CK(dnnl_convolution_backward_data_desc_init(&bd,dnnl_convolution_direct,&src,&w,&dst,s,p,p));
  CK(dnnl_primitive_desc_create(&bdpd,&bd,NULL,eng,fpd)); CK(dnnl_primitive_create(&bdp,bdpd));
  CK(dnnl_convolution_backward_weights_desc_init(&bw,dnnl_convolution_direct,&src,&w,NULL,&dst,s,p,p));
  CK(dnnl_primitive_desc_create(&bwpd,&bw,NULL,eng,fpd)); CK(dnnl_primitive_create(&bwp,bwpd));
  dnnl_memory_t ms=mk(dnnl_primitive_desc_query_md(fpd,dnnl_query_src_md,0)), mw=mk(dnnl_primitive_desc_query_md(fpd,dnnl_query_weights_md,0)), md=mk(dnnl_primitive_desc_query_md(fpd,dnnl_query_dst_md,0));
  dnnl_memory_t mws=mk(dnnl_primitive_desc_query_md(bdpd,dnnl_query_weights_md,0)), mdd=mk(dnnl_primitive_desc_query_md(bdpd,dnnl_query_diff_dst_md,0)), mds=mk(dnnl_primitive_desc_query_md(bdpd,dnnl_query_diff_src_md,0));
  dnnl_memory_t bs=mk(dnnl_primitive_desc_query_md(bwpd,dnnl_query_src_md,0)), bdw=mk(dnnl_primitive_desc_query_md(bwpd,dnnl_query_diff_weights_md,0)), bdd=mk(dnnl_primitive_desc_query_md(bwpd,dnnl_query_diff_dst_md,0));
  dnnl_exec_arg_t fa[3]={{DNNL_ARG_SRC,ms},{DNNL_ARG_WEIGHTS,mw},{DNNL_ARG_DST,md}};
  dnnl_exec_arg_t da[3]={{DNNL_ARG_DIFF_SRC,mds},{DNNL_ARG_WEIGHTS,mws},{DNNL_ARG_DIFF_DST,mdd}};
  dnnl_exec_arg_t wa[3]={{DNNL_ARG_SRC,bs},{DNNL_ARG_DIFF_WEIGHTS,bdw},{DNNL_ARG_DIFF_DST,bdd}};
  double t[3]; dnnl_primitive_t ps[3]={fp,bdp,bwp}; dnnl_exec_arg_t* as[3]={fa,da,wa};
  for(int k=0;k<3;k++){ CK(dnnl_primitive_execute(ps[k],st,3,as[k])); dnnl_stream_wait(st); double t0=now(); for(int i=0;i<10;i++){CK(dnnl_primitive_execute(ps[k],st,3,as[k]));} dnnl_stream_wait(st); t[k]=(now()-t0)/10; }
  const char* impl; dnnl_primitive_desc_query(fpd,dnnl_query_impl_info_str,0,&impl);
  const char* impl2; dnnl_primitive_desc_query(bwpd,dnnl_query_impl_info_str,0,&impl2);
  printf("B%d H%d %d->%d s%d any=%d: fwd %.2f bwd_data %.2f bwd_w %.2f ms  [%s | %s]\n",B,H,Ci,Co,stride,useAny,t[0],t[1],t[2],impl,impl2);
}
int main(){ CK(dnnl_engine_create(&eng,dnnl_cpu,0)); CK(dnnl_stream_create(&st,eng,dnnl_stream_default_flags));
 int cs[][5]={{512,16,16,16,1},{512,16,3,16,1},{512,18,16,32,2},{512,8,32,32,1},{512,10,32,64,2},{512,4,64,64,1},{512,6,64,128,2},{512,2,128,128,1}};
 for(int i=0;i<8;i++) for(int a=0;a<2;a++) run(cs[i][0],cs[i][1],cs[i][2],cs[i][3],cs[i][4],cs[i][4]==2?0:1,a);
}
